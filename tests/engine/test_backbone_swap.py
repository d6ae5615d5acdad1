"""A user who only swaps the backbone of a stock mmpretrain config (``custom_imports`` with
``repl_mm``, ``type='ResNetRepL'``, no ``runner_type``) trains with plain mmengine behaviour
(issue 21): mmengine's ``Runner`` and ``CheckpointHook``, none of repl-mm's hooks, two
iterations with finite losses, a checkpoint that resumes. The only repl-mm piece on that path
is the registered weights_only loader scheme, which is what lets mmengine resume at all on
torch >= 2.6."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

pytest.importorskip('mmpretrain')

STOCK = """
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
# the two lines of a backbone swap
custom_imports = dict(imports=['repl_mm'], allow_failed_imports=False)
model = dict(backbone=dict(type='ResNetRepL', interval=4))
"""


def _tiny_imagenet(root: str) -> None:
    import cv2
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'meta'))
    lines = []
    for i in range(4):
        rel = f'n{i % 2:08d}/img_{i}.JPEG'
        os.makedirs(osp.join(root, 'train', osp.dirname(rel)), exist_ok=True)
        cv2.imwrite(osp.join(root, 'train', rel),
                    rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        lines.append(f'{rel} {i % 2}\n')
    with open(osp.join(root, 'meta', 'train.txt'), 'w') as f:
        f.writelines(lines)


def _cfg(tmp_path, max_epochs: int, resume: bool = False) -> Config:
    path = tmp_path / 'stock_swap.py'
    path.write_text(STOCK)
    cfg = Config.fromfile(str(path))
    assert 'runner_type' not in cfg
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'data')
    cfg.train_dataloader.dataset.split = 'train'
    cfg.train_dataloader.batch_size = 2            # 4 images: 2 iterations an epoch
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'RandomResizedCrop':
            t.scale = 32
    cfg.model.head.num_classes = 2
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    cfg.resume = resume
    cfg.log_level = 'WARNING'
    return cfg


def test_backbone_swap_trains_with_plain_mmengine(tmp_path):
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import Runner
    torch.set_num_threads(1)
    _tiny_imagenet(str(tmp_path / 'data'))
    runner = Runner.from_cfg(_cfg(tmp_path, max_epochs=1))
    assert type(runner) is Runner
    hooks = [type(h).__name__ for h in runner.hooks]
    assert not {'NonFiniteLossHook', 'RNGStateHook', 'SafeCheckpointHook'} & set(hooks)
    assert [type(h) for h in runner.hooks if isinstance(h, CheckpointHook)] == [CheckpointHook]
    assert type(runner.model.backbone).__name__ == 'ResNetRepL'
    runner.train()
    assert runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    ckpt = tmp_path / 'work' / 'epoch_1.pth'
    assert ckpt.is_file() and (tmp_path / 'work' / 'last_checkpoint').read_text() == str(ckpt)

    # mmengine's own auto-resume (find_latest_checkpoint, Runner.resume) continues the run
    resumed = Runner.from_cfg(_cfg(tmp_path, max_epochs=2, resume=True))
    resumed.train()
    assert resumed.iter == 4 and resumed.epoch == 2
