"""`custom_imports=dict(imports=['repl_mm'])` makes every RepL type resolve in each scope."""
import subprocess
import sys
import textwrap

import pytest

import repl_mm
from repl_mm.adapters import AVAILABLE

TYPES = ['ResNetRepL', 'ResNetV1cRepL', 'ResNetV1dRepL', 'CifarResNet', 'CifarResNetRepL',
         'VisionTransformerRepL']


def test_every_toolbox_is_registered():
    assert sorted(AVAILABLE) == ['mmdet', 'mmpretrain', 'mmseg']
    from mmdet.registry import MODELS as DET
    from mmpretrain.registry import MODELS as CLS
    from mmseg.registry import MODELS as SEG
    for registry in (DET, SEG, CLS):
        for name in TYPES:
            if name == 'VisionTransformerRepL' and registry is DET:
                continue
            assert registry.get(name) is not None, (registry.scope, name)
    # one class per toolbox, each subclassing that toolbox's own ResNet
    import mmdet.models.backbones as det_bb
    import mmpretrain.models.backbones as cls_bb
    import mmseg.models.backbones as seg_bb
    assert issubclass(DET.get('ResNetRepL'), det_bb.ResNet)
    assert issubclass(SEG.get('ResNetRepL'), seg_bb.ResNet)
    assert issubclass(CLS.get('ResNetRepL'), cls_bb.ResNet)


SCRIPT = """
import sys
from mmengine.config import Config
from mmengine.registry import init_default_scope
cfg = Config.fromfile(sys.argv[1])
init_default_scope(cfg.default_scope)
from mmengine.registry import MODELS
model = MODELS.build(cfg.model)
print(type(model).__module__, type(model).__name__, model.removal_plan)
"""


@pytest.mark.parametrize('scope,backbone,expected', [
    ('mmdet', "dict(type='ResNetRepL', depth=101)", 'repl_mm.adapters.mmdet ResNetRepL'),
    ('mmseg', "dict(type='ResNetV1cRepL', depth=50, dilations=(1, 1, 2, 4), "
              "strides=(1, 2, 1, 1))", 'repl_mm.adapters.mmseg ResNetV1cRepL'),
    ('mmpretrain', "dict(type='VisionTransformerRepL', arch='deit-tiny', img_size=32, "
                   "patch_size=8)", 'repl_mm.models.vit VisionTransformerRepL'),
])
def test_custom_imports_in_a_fresh_interpreter(tmp_path, scope, backbone, expected):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(textwrap.dedent(f"""
        default_scope = '{scope}'
        custom_imports = dict(imports=['repl_mm'], allow_failed_imports=False)
        model = {backbone}
    """))
    out = subprocess.run([sys.executable, '-c', SCRIPT, str(cfg)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith(expected)
    if 'depth=101' in backbone:
        assert line.endswith('[[], [], [3, 7, 11, 15, 19], []]')


def test_version():
    assert repl_mm.__version__ == '0.1.0'
