"""Classification end to end in the mmpretrain scope (Tables I and II):

* configs/resnet101_repl_imagenet.py trains on a tiny ImageNet-layout set and reports
  top-1 / top-5; its deploy checkpoint (``switch_to_deploy``, eq. 32) gives the same
  predictions and, through tools/test.py, the same top-1 / top-5;
* configs/cifar-resnet32_repl_cifar10.py trains on tiny cifar-10-batches-py pickles.
"""
import os
import os.path as osp
import pickle
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from repl_mm.core.stage import computing_layers
from repl_mm.testing.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
NUM_CLASSES = 6


def _image(label: int, rng, size=(40, 48)) -> np.ndarray:
    """A class-coloured image with noise (BGR uint8)."""
    base = np.array([(label * 40) % 256, (label * 90) % 256, 255 - label * 30], np.uint8)
    noise = rng.integers(0, 40, (*size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def make_tiny_imagenet(root: str, per_class: int = 2) -> None:
    """mmpretrain's ImageNet layout: train/<wnid>/*.JPEG, val/*.JPEG, meta/{train,val}.txt."""
    import cv2
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'meta'))
    for split in ('train', 'val'):
        lines = []
        for label in range(NUM_CLASSES):
            for i in range(per_class):
                if split == 'train':
                    rel = f'n{label:08d}/n{label:08d}_{i}.JPEG'
                else:
                    rel = f'ILSVRC2012_val_{label * per_class + i:08d}.JPEG'
                path = osp.join(root, split, rel)
                os.makedirs(osp.dirname(path), exist_ok=True)
                cv2.imwrite(path, _image(label, rng))
                lines.append(f'{rel} {label}\n')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)


def _tiny_loaders(cfg: Config, data_root: str, batch: int) -> None:
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.batch_size = batch
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = data_root


def tiny_imagenet_cfg(name: str, data_root: str, work_dir: str) -> Config:
    cfg = Config.fromfile(osp.join(CONFIGS, name + '.py'))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'RandomResizedCrop':
            t.scale = 32
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        for t in loader.dataset.pipeline:
            if t.type == 'ResizeEdge':
                t.scale = 36
            elif t.type == 'CenterCrop':
                t.crop_size = 32
    _tiny_loaders(cfg, data_root, batch=6)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 2          # evaluated once, by runner.test()
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.save_best = None
    cfg.default_hooks.checkpoint.save_optimizer = False
    return cfg


def _build(cfg: Config):
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


def run_tool_test(argv):
    """``tools/test.py`` in this process (its ``main`` returns the metrics it prints)."""
    return load_tool('tools/test.py').main(argv)


def _printed_accuracy(text: str) -> dict:
    return {k: float(v) for k, v in re.findall(r'accuracy/(top1|top5): ([\d.]+)', text)}


def test_imagenet_train_evaluate_and_deploy(tmp_path, capfd):
    from mmengine.runner import Runner, load_checkpoint

    import repl_mm.engine  # noqa: F401  safe (weights_only) checkpoint schemes
    from repl_mm.deploy import reparameterize_checkpoint
    data_root = str(tmp_path / 'imagenet')
    make_tiny_imagenet(data_root)
    work = tmp_path / 'work'
    cfg = tiny_imagenet_cfg('resnet101_repl_imagenet', data_root, str(work))
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    top1, top5 = metrics['accuracy/top1'], metrics['accuracy/top5']
    assert 0.0 <= top1 <= top5 <= 100.0
    # 12 validation images: accuracies are multiples of 100/12
    assert abs(top5 * 12 / 100 - round(top5 * 12 / 100)) < 1e-4
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()

    # deploy checkpoint with the real config (tools/model_converters/reparameterize_model.py)
    deploy_ckpt = tmp_path / 'deploy.pth'
    config = osp.join(CONFIGS, 'resnet101_repl_imagenet.py')
    reparameterize_checkpoint(config, str(ckpt), str(deploy_ckpt))

    train_form = _build(Config.fromfile(config))
    load_checkpoint(train_form, str(ckpt), map_location='cpu', strict=True)
    deploy_cfg = Config.fromfile(config)
    deploy_cfg.model.backbone.deploy = True
    deploy = _build(deploy_cfg)
    load_checkpoint(deploy, str(deploy_ckpt), map_location='cpu', strict=True)
    layers = list(computing_layers(deploy.backbone))
    assert len(layers) == 5 and all(layer.deploy for _, layer in layers)  # 4, 8, ..., 20

    batch = next(iter(runner.test_dataloader))
    train_form.eval()
    deploy.eval()
    with torch.no_grad():
        data = train_form.data_preprocessor(batch, False)
        a = train_form(data['inputs'], mode='tensor')
        b = deploy(data['inputs'], mode='tensor')
    # equal to float32 precision, relative to the logits' scale (a one-epoch model on 12
    # images can have logits in the 1e4 range)
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5 * a.abs().max().item())
    assert torch.equal(a.argmax(1), b.argmax(1))

    # tools/test.py on the deploy checkpoint prints the same top-1 / top-5
    cfg_file = tmp_path / 'tiny_resnet101_repl_imagenet.py'
    cfg.dump(str(cfg_file))
    capfd.readouterr()
    tool_metrics = run_tool_test([str(cfg_file), str(deploy_ckpt), '--work-dir',
                                  str(tmp_path / 'test'), '--cfg-options',
                                  'model.backbone.deploy=True'])
    printed = _printed_accuracy(''.join(capfd.readouterr()))
    assert printed == pytest.approx({'top1': top1, 'top5': top5}, abs=1e-3)
    assert tool_metrics['accuracy/top1'] == pytest.approx(top1)
    assert tool_metrics['accuracy/top5'] == pytest.approx(top5)


def make_tiny_cifar10(root: str, per_batch: int = 4) -> None:
    """The official cifar-10-batches-py layout: five data batches, a test batch, the meta."""
    rng = np.random.default_rng(0)
    folder = osp.join(root, 'cifar-10-batches-py')
    os.makedirs(folder)
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    for n, name in enumerate(names):
        labels = [(n + i) % 10 for i in range(per_batch)]
        data = np.stack([_image(lb, rng, (32, 32))[..., ::-1].transpose(2, 0, 1).reshape(-1)
                         for lb in labels])
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'batch_label': name, 'labels': labels, 'data': data,
                         'filenames': [f'{name}_{i}.png' for i in range(per_batch)]}, f)
    with open(osp.join(folder, 'batches.meta'), 'wb') as f:
        pickle.dump({'label_names': ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                                     'frog', 'horse', 'ship', 'truck']}, f)


def test_cifar10_train_and_evaluate(tmp_path, monkeypatch):
    from mmengine.runner import Runner
    from mmpretrain.datasets import CIFAR10
    # the tiny files cannot have the official md5 sums that CIFAR10 checks
    for attr in ('train_list', 'test_list'):
        monkeypatch.setattr(CIFAR10, attr, [[n, None] for n, _ in getattr(CIFAR10, attr)])
    monkeypatch.setattr(CIFAR10, 'meta', dict(CIFAR10.meta, md5=None))
    data_root = str(tmp_path / 'cifar10')
    make_tiny_cifar10(data_root)

    cfg = Config.fromfile(osp.join(CONFIGS, 'cifar-resnet32_repl_cifar10.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    _tiny_loaders(cfg, data_root, batch=20)
    # the real schedule shortened: 1 warm-up epoch, 1 cosine epoch (1 iteration each)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, cosine.type, cosine.begin) == \
        ('LinearLR', 5, 'CosineAnnealingLR', 5)
    warmup.end = cosine.begin = 1
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 3          # evaluated once, by runner.test()
    cfg.default_hooks.checkpoint.save_best = None
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) == 5 * 4
    model = runner.train()
    backbone = getattr(model, 'module', model).backbone
    assert type(backbone).__name__ == 'CifarResNetRepL'
    assert backbone.removal_plan == [[3], [3], [3]]
    metrics = runner.test()
    assert set(metrics) == {'accuracy/top1'}
    # 4 test images: a multiple of 25 %
    assert metrics['accuracy/top1'] in {25.0 * k for k in range(5)}
