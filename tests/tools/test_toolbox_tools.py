"""docs/toolbox_tools.md: the upstream mmseg 1.2.2 breakages in the pinned stack are real (they
fail with mmseg's own tools), and tools/misc/mmseg_get_flops.py / mmseg_browse_dataset.py work
around them with our configs."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from repl_mm.testing.tools import load_tool

mmseg = pytest.importorskip('mmseg')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_CONFIG = osp.join(ROOT, 'configs', 'deeplabv3plus_r50_repl_cityscapes.py')
MMSEG_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'analysis_tools')


def _load(name: str):
    return load_tool(f'tools/misc/{name}.py')


def _env():
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
                OMP_NUM_THREADS='1', MPLBACKEND='Agg')


def test_mmseg_get_flops_upstream_breaks_and_workaround():
    proc = subprocess.run([sys.executable, osp.join(MMSEG_TOOLS, 'get_flops.py'), SEG_CONFIG,
                           '--shape', '32', '64'], capture_output=True, text=True,
                          timeout=600, env=_env(), cwd=ROOT)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == \
        'ValueError: "input_shape" and "inputs" cannot be both set.'
    result = _load('mmseg_get_flops').main([SEG_CONFIG, '--shape', '32', '64'])
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(SEG_CONFIG).model)
    expected_params = sum(p.numel() for n, p in model.named_parameters()
                          if not n.startswith('auxiliary_head.'))
    assert result['input_shape'] == (32, 64) and result['params'] == expected_params
    # FLOPs grow with the pixels: 4x the area, 4x the count (convolutions dominate)
    big = _load('mmseg_get_flops').main([SEG_CONFIG, '--shape', '64', '128'])
    assert big['flops'] == pytest.approx(4 * result['flops'], rel=0.02)


def test_mmseg_browse_dataset_upstream_breaks_and_workaround(tmp_path):
    sys.path.insert(0, osp.join(ROOT, 'tests', 'e2e'))
    try:
        from test_segmentation_e2e import make_tiny_cityscapes
    finally:
        sys.path.pop(0)
    data = tmp_path / 'city'
    make_tiny_cityscapes(str(data))
    args = [SEG_CONFIG, '--not-show', '--cfg-options',
            f'train_dataloader.dataset.data_root={data}/']
    stock = subprocess.run([sys.executable, osp.join(MMSEG_TOOLS, 'browse_dataset.py'), *args,
                            '--output-dir', str(tmp_path / 'stock')], capture_output=True,
                           text=True, timeout=600, env=_env(), cwd=ROOT)
    assert stock.returncode != 0
    assert "cv2.error: OpenCV" in stock.stderr and "in function 'rectangle'" in stock.stderr
    fixed = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'misc',
                                                     'mmseg_browse_dataset.py'), *args,
                            '--output-dir', str(tmp_path / 'fixed')], capture_output=True,
                           text=True, timeout=600, env=_env(), cwd=ROOT)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    import cv2
    names = sorted(os.listdir(tmp_path / 'fixed'))
    assert names == [f'tinycity_{i:06d}_000019_leftImg8bit.png' for i in range(2)]
    img = cv2.imread(str(tmp_path / 'fixed' / names[0]))
    # 32x64 images through the config's train pipeline: RandomResize to 1024x2048 x [0.5, 2],
    # RandomCrop 768x768 -> 768 wide, 512 to 768 high; the label colours drawn over them
    assert img.shape[1:] == (768, 3) and 512 <= img.shape[0] <= 768 and img.std() > 0


def test_tensorboard_override_from_the_docs(tmp_path):
    """The config of docs/toolbox_tools.md adds TensorboardVisBackend and keeps the toolbox's
    visualizer type."""
    import re

    from repl_mm.engine import load_config
    with open(osp.join(ROOT, 'docs', 'toolbox_tools.md')) as f:
        doc = f.read()
    block = re.search(r'```python\n# configs/retinanet_r50_repl_coco_tb.py\n(.*?)```', doc,
                      re.S).group(1)
    base = osp.join(ROOT, 'configs', 'retinanet_r50_repl_coco.py')
    config = tmp_path / 'retinanet_r50_repl_coco_tb.py'
    config.write_text(block.replace("'./retinanet_r50_repl_coco.py'", repr(base)))
    cfg = load_config(str(config))
    assert cfg.visualizer.type == 'DetLocalVisualizer'
    assert [b['type'] for b in cfg.visualizer.vis_backends] == ['LocalVisBackend',
                                                                'TensorboardVisBackend']
