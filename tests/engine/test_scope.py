"""The tools pick the toolbox from default_scope (repl_mm.engine.runner.scope)."""
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from repl_mm.engine import load_config
from repl_mm.engine.runner.scope import detect_scope, setup_scope

BASES = {'mmdet': 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
         'mmseg': 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb2-40k_cityscapes-512x1024.py',
         'mmpretrain': 'mmpretrain::resnet/resnet18_8xb32_in1k.py'}


@pytest.mark.parametrize('scope', list(BASES))
def test_scope_of_each_toolbox(tmp_path, scope):
    path = tmp_path / f'{scope}_cfg.py'
    path.write_text(f"_base_ = '{BASES[scope]}'\nmodel = dict(backbone=dict(type='ResNetRepL'))\n")
    cfg = load_config(str(path))
    assert detect_scope(cfg) == scope
    assert DefaultScope.get_current_instance().scope_name == scope
    import importlib
    registry = importlib.import_module(f'{scope}.registry').MODELS
    assert registry.get('ResNetRepL') is not None  # repl_mm imported without custom_imports


@pytest.mark.parametrize('value', [None, 'mmocr'])
def test_unknown_scope(value):
    cfg = Config(dict(default_scope=value) if value else {})
    with pytest.raises(ValueError, match="default_scope of the config must be one of "
                                         "\\('mmdet', 'mmseg', 'mmpretrain'\\)"):
        setup_scope(cfg)
