"""AdaptiveRepLHook with a real mmengine Runner: a mask of |F| blocks per epoch (eq. 34), logged,
saved in the checkpoint and restored on resume, so the resumed run continues with it; test
without a mask in the checkpoint is refused."""
import copy

import pytest
import torch
from mmengine.dataset import DefaultSampler
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from repl_mm.engine.fileio.safe_load import safe_torch_load
from repl_mm.engine.hooks.adaptive_repl_hook import CHECKPOINT_KEY, AdaptiveRepLHook


class _Images(Dataset):
    def __init__(self, n=8):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, 16, 16, generator=g)
        self.y = torch.arange(n) % 2

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], labels=self.y[i])


class _Classifier(BaseModel):
    def __init__(self):
        super().__init__()
        from mmpretrain.registry import MODELS
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            self.backbone = MODELS.build(dict(type='CifarResNetRepL', depth=20,
                                              replace_blocks=[[1], [], [1]], adaptive=True))
        self.head = nn.Linear(64, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        feats = self.backbone(inputs)[-1].mean((2, 3))
        logits = self.head(feats)
        if mode == 'loss':
            return dict(loss=nn.functional.cross_entropy(logits, labels))
        return logits


def _runner(work_dir, epochs, resume=False):
    return Runner(
        model=_Classifier(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Images(), sampler=dict(type=DefaultSampler, shuffle=True),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        custom_hooks=[dict(type='AdaptiveRepLHook')],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), resume=resume, default_scope='mmengine')


def test_mask_per_epoch_saved_and_resumed(tmp_path):
    runner = _runner(tmp_path / 'a', epochs=2)
    masks = []
    hook = [h for h in runner.hooks if isinstance(h, AdaptiveRepLHook)][0]
    orig = hook.before_train_iter

    def record(runner_, batch_idx, data_batch=None):
        orig(runner_, batch_idx, data_batch)
        if batch_idx == 0:
            masks.append(copy.deepcopy(runner_.model.backbone.adaptive_mask))
    hook.before_train_iter = record
    runner.train()
    assert len(masks) == 2
    assert all(sum(map(len, m)) == 2 for m in masks)               # |F| = 2 (eq. 34)
    ckpt = safe_torch_load(str(tmp_path / "a" / "epoch_2.pth"))
    assert ckpt[CHECKPOINT_KEY]['mask'] == runner.model.backbone.adaptive_mask == masks[-1]
    assert ckpt[CHECKPOINT_KEY]['count'] == 2
    log = open(next((tmp_path / 'a').glob('*/*.log'))).read()
    assert 'Adaptive-RepL epoch 2: replacing blocks' in log

    # resume from epoch 1 into a fresh runner: the mask of epoch 1 is restored before epoch 2
    # is scored, and the resumed run ends with the same mask as the uninterrupted one
    (tmp_path / 'b').mkdir()
    import shutil
    shutil.copy(tmp_path / 'a' / 'epoch_1.pth', tmp_path / 'b' / 'epoch_1.pth')
    (tmp_path / 'b' / 'last_checkpoint').write_text(str(tmp_path / 'b' / 'epoch_1.pth'))
    resumed = _runner(tmp_path / 'b', epochs=2, resume=True)
    restored = []
    rhook = [h for h in resumed.hooks if isinstance(h, AdaptiveRepLHook)][0]
    rorig = rhook.after_load_checkpoint

    def after_load(runner_, checkpoint):
        rorig(runner_, checkpoint)
        restored.append(copy.deepcopy(runner_.model.backbone.adaptive_mask))
    rhook.after_load_checkpoint = after_load
    resumed.train()
    assert restored == [masks[0]]
    assert resumed.model.backbone.adaptive_mask == masks[1]


def test_checkpoint_without_mask_is_refused_for_evaluation(tmp_path):
    runner = _runner(tmp_path, epochs=1)
    hook = AdaptiveRepLHook()
    with pytest.raises(ValueError, match="no 'adaptive_repl' entry"):
        hook.after_load_checkpoint(runner, {'state_dict': {}})
    with pytest.raises(ValueError, match='replaces 5 blocks, this model'):
        hook.after_load_checkpoint(runner, {CHECKPOINT_KEY: dict(mask=[[1], [], [1]],
                                                                 count=5)})


def test_hook_refuses_fixed_backbone(tmp_path):
    from repl_mm.engine.hooks.adaptive_repl_hook import adaptive_backbone
    model = _Classifier()
    model.backbone.adaptive = False
    with pytest.raises(ValueError, match='adaptive=True'):
        adaptive_backbone(model)
