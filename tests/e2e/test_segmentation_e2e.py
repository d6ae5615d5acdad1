"""DeepLabV3+-R50-RepL (configs/deeplabv3plus_r50_repl_cityscapes.py) trains a few iterations
on a tiny CityScapes-layout set and evaluates aAcc / mIoU / mAcc in the mmseg scope, starting
from a checkpoint of the ImageNet classification config (the pretrained chain)."""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from repl_mm.testing.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
NUM_CLASSES = 19
H, W = 32, 64


def make_tiny_cityscapes(root: str, per_split: int = 2) -> None:
    """leftImg8bit/{train,val}/city/*_leftImg8bit.png + gtFine/.../*_gtFine_labelTrainIds.png
    with the 19 train ids in vertical bands, an ignore (255) band, and images whose colour
    follows the label so the task is learnable."""
    import cv2
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (NUM_CLASSES, 3), dtype=np.uint8)
    for split in ('train', 'val'):
        img_dir = osp.join(root, 'leftImg8bit', split, 'tinycity')
        gt_dir = osp.join(root, 'gtFine', split, 'tinycity')
        os.makedirs(img_dir)
        os.makedirs(gt_dir)
        for i in range(per_split):
            label = np.zeros((H, W), np.uint8)
            bands = np.array_split(np.arange(W), NUM_CLASSES + 1)
            for c, cols in enumerate(bands[:-1]):
                label[:, cols] = (c + i) % NUM_CLASSES
            label[:, bands[-1]] = 255
            img = palette[np.minimum(label, NUM_CLASSES - 1)]
            img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
            name = f'tinycity_{i:06d}_000019'
            cv2.imwrite(osp.join(img_dir, f'{name}_leftImg8bit.png'), img)
            cv2.imwrite(osp.join(gt_dir, f'{name}_gtFine_labelTrainIds.png'), label)


def tiny_cfg(name: str, data_root: str, work_dir: str, pretrained: str) -> Config:
    """The real config with only sizes, lengths and paths made tiny."""
    cfg = Config.fromfile(osp.join(CONFIGS, name + '.py'))
    crop = (H, H)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    cfg.model.backbone.init_cfg.checkpoint = pretrained
    cfg.model.data_preprocessor.size = crop
    cfg.model.test_cfg = dict(mode='slide', crop_size=crop, stride=crop)
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'RandomResize':
            t.scale = (W, H)
        elif t.type == 'RandomCrop':
            t.crop_size = crop
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = data_root
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        for t in loader.dataset.pipeline:
            if t.type == 'Resize':
                t.scale = (W, H)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = 3
    cfg.train_cfg.val_interval = 4          # evaluated once, by runner.test()
    cfg.param_scheduler[0].end = 3
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.logger.interval = 1
    return cfg


def run_tool_test(argv):
    """``tools/test.py`` in this process (its ``main`` returns the metrics it prints)."""
    return load_tool('tools/test.py').main(argv)


@pytest.fixture(scope='module')
def chain_checkpoint(tmp_path_factory):
    """A checkpoint written from configs/resnet50-v1c_repl_imagenet.py's classifier."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(CONFIGS, 'resnet50-v1c_repl_imagenet.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = MODELS.build(cfg.model)
    classifier.init_weights()
    path = tmp_path_factory.mktemp('imagenet') / 'epoch_90.pth'
    torch.save({'state_dict': classifier.state_dict(), 'meta': {'epoch': 90}}, path)
    return str(path), classifier.backbone.state_dict()


def test_train_and_evaluate(tmp_path, capfd, chain_checkpoint):
    from mmengine.runner import Runner
    ckpt, imagenet_backbone = chain_checkpoint
    data_root = str(tmp_path / 'cityscapes')
    make_tiny_cityscapes(data_root)
    prepare = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'dataset_converters',
                                                      'prepare_cityscapes.py'),
                              data_root, '--check'], capture_output=True, text=True)
    assert prepare.returncode == 0 and 'layout OK' in prepare.stdout, prepare.stdout

    cfg = tiny_cfg('deeplabv3plus_r50_repl_cityscapes', data_root, str(tmp_path / 'work'), ckpt)
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    backbone = getattr(model, 'module', model).backbone
    assert type(backbone).__name__ == 'ResNetV1cRepL'
    # started from the ImageNet checkpoint: untouched by training, e.g. the frozen-free stem
    # moved but the removal plan and key set are the classifier's
    assert set(backbone.state_dict()) == set(imagenet_backbone)
    alpha = backbone.layer3[3].synthesis.alpha
    assert not torch.allclose(alpha, torch.full_like(alpha, 0.5)), \
        'the computing layer coefficients were not trained'

    metrics = runner.test()
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert key in metrics, metrics
        assert 0.0 <= float(metrics[key]) <= 100.0 and np.isfinite(metrics[key]), metrics
    assert osp.isfile(tmp_path / 'work' / 'iter_3.pth')

    # the same checkpoint through tools/test.py (mmseg scope picked from the config)
    cfg_file = tmp_path / 'tiny_cfg.py'
    cfg.dump(str(cfg_file))
    capfd.readouterr()
    tool_metrics = run_tool_test([str(cfg_file), str(tmp_path / 'work' / 'iter_3.pth'),
                                  '--work-dir', str(tmp_path / 'test')])
    out = ''.join(capfd.readouterr())
    printed = {k: float(v) for k, v in re.findall(r'(aAcc|mIoU|mAcc): ([\d.]+)', out)}
    assert set(printed) == {'aAcc', 'mIoU', 'mAcc'}, out[-2000:]
    for key, value in printed.items():
        assert value == pytest.approx(float(metrics[key]), abs=0.011)
        assert float(tool_metrics[key]) == pytest.approx(float(metrics[key]), abs=1e-6)
