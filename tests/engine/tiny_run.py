"""A tiny mmengine training run for the fault-injection tests (seconds on one CPU core).

A 16-sample dataset whose ``__getitem__`` draws from Python's ``random``, numpy's and torch's
global generators (random flip, random crop offset, noise -- what RandomFlip /
RandomResizedCrop do), a conv + linear classifier that reports two loss terms, and mmengine's
``ReplRunner`` (crash-safe saves, ``SafeCheckpointHook``, resume fallback) with repl_mm's
hooks. Used in-process (:func:`build_runner`) and as a subprocess
(``python tiny_run.py JSON``) that can be killed with SIGKILL during a save or mid-epoch.
"""
import json
import os
import random
import signal
import sys
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from repl_mm.engine import ReplRunner  # noqa: E402  safe loading / saving / resume
from repl_mm.engine.hooks import add_default_hooks  # noqa: E402


class AugmentedToySet(Dataset):
    """16 fixed 3x10x10 images, randomly flipped, cropped to 8x8 and noised per access."""

    def __init__(self, n: int = 16) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.rand(n, 3, 10, 10, generator=g)
        self.labels = torch.arange(n) % 4
        self.metainfo = dict(classes=('a', 'b', 'c', 'd'))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        x = self.images[i]
        if np.random.rand() < 0.5:           # RandomFlip (numpy, as mmcv does)
            x = x.flip(-1)
        top, left = random.randint(0, 2), random.randint(0, 2)  # RandomCrop (python)
        x = x[:, top:top + 8, left:left + 8]
        x = x + 0.05 * torch.rand_like(x)    # noise (torch)
        return dict(inputs=x, labels=self.labels[i])


class ToyClassifier(BaseModel):
    """conv(3->4) + linear(4*8*8 -> 4); losses ``loss_cls`` and ``loss_reg`` (L2)."""

    def __init__(self, nan_at_iter: int = -1) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 4)
        self.drop = torch.nn.Dropout(0.2)        # torch RNG in the forward pass too
        self.nan_at_iter = nan_at_iter
        self.calls = 0

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.fc(self.drop(F.relu(self.conv(inputs)).flatten(1)))
        if mode != 'loss':
            return logits
        self.calls += 1
        loss_cls = F.cross_entropy(logits, labels)
        if self.calls == self.nan_at_iter:
            loss_cls = loss_cls * float('nan')
        return dict(loss_cls=loss_cls, loss_reg=1e-3 * self.fc.weight.pow(2).sum())


class Crash(RuntimeError):
    """Stands in for a kill in in-process tests."""


class KillAt(Hook):
    """After training iteration ``at`` (1-based) SIGKILLs the process (``sigkill=True``) or
    raises :class:`Crash` (in-process: what follows the last checkpoint is lost either way)."""

    priority = 'LOWEST'

    def __init__(self, at: int, sigkill: bool) -> None:
        self.at, self.sigkill = at, sigkill

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at:
            if self.sigkill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise Crash(f'crash after iteration {self.at}')


def kill_during_save_of(name: str) -> None:
    """Makes the crash-safe writer SIGKILL the process when the temporary file of checkpoint
    ``name`` is half written (truncated to half its size, then killed before the rename)."""
    from repl_mm.utils import atomic_write as safe_save  # the one atomic write
    original = safe_save._sync

    def _sync(f):
        path = os.readlink(f'/proc/self/fd/{f.fileno()}')
        if os.path.basename(path).startswith(f'.{name}.tmp-'):
            f.flush()
            os.ftruncate(f.fileno(), os.fstat(f.fileno()).st_size // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        original(f)

    safe_save._sync = _sync


def build_runner(work_dir: str, name: str, max_epochs: int = 3, max_iters: int = 0,
                 interval: int = 1, max_keep_ckpts: int = -1, resume: bool = False,
                 nan_at_iter: int = -1, kill_at_iter: int = 0, sigkill: bool = False,
                 num_workers: int = 0,
                 persistent_workers: bool = False, val: bool = False, save_best: bool = False,
                 default_hooks: bool = True, by_epoch_ckpt: bool = True,
                 seed: Optional[int] = 0, runner: str = 'ReplRunner',
                 ckpt_type: str = 'CheckpointHook') -> Runner:
    """A Runner on :class:`AugmentedToySet` (batch 4: 4 iterations per epoch).

    Args:
        max_iters (int): > 0 for an ``IterBasedTrainLoop`` (InfiniteSampler) instead of
            ``max_epochs`` epochs.
        interval (int): checkpoint interval (epochs, or iterations for iteration-based runs).
        kill_at_iter (int): crash after this iteration (1-based); 0: never.
        sigkill (bool): crash by SIGKILL (subprocess) instead of raising :class:`Crash`.
        runner (str): ``'ReplRunner'`` (makes a ``CheckpointHook`` the ``SafeCheckpointHook``)
            or mmengine's ``'Runner'``.
        ckpt_type (str): the checkpoint hook of ``default_hooks``.
    """
    from mmengine.config import Config
    by_iter = max_iters > 0
    sampler = dict(type='InfiniteSampler' if by_iter else 'DefaultSampler', shuffle=True)
    loader = dict(dataset=AugmentedToySet(), sampler=sampler, batch_size=4,
                  num_workers=num_workers, persistent_workers=persistent_workers,
                  collate_fn=dict(type='default_collate'))
    train_cfg = dict(by_epoch=False, max_iters=max_iters) if by_iter else \
        dict(by_epoch=True, max_epochs=max_epochs)
    if val:
        train_cfg['val_interval'] = interval
    ckpt = dict(type=ckpt_type, interval=interval, by_epoch=(not by_iter) and by_epoch_ckpt,
                max_keep_ckpts=max_keep_ckpts)
    if save_best:
        ckpt['save_best'] = 'toy/score'
        ckpt['rule'] = 'greater'
    cfg = Config(dict(custom_hooks=[]))
    if default_hooks:
        add_default_hooks(cfg)
    else:  # ReplRunner adds the hooks a config lacks: these are present, turned off
        cfg.custom_hooks = [dict(type='NonFiniteLossHook', enabled=False),
                            dict(type='RNGStateHook', enabled=False)]
    hooks = list(cfg.custom_hooks)
    if kill_at_iter:
        hooks.append(KillAt(kill_at_iter, sigkill))
    kwargs = {}
    if val:
        from mmengine.evaluator import BaseMetric, Evaluator

        class Score(BaseMetric):
            """The epoch: better at every validation, so save_best rotates every epoch."""
            default_prefix = 'toy'

            def process(self, data_batch, data_samples):
                self.results.append(float(torch.stack(list(data_samples)).std()))

            def compute_metrics(self, results):
                from mmengine.logging import MessageHub
                return dict(score=float(MessageHub.get_current_instance().get_info('epoch')))

        kwargs = dict(val_dataloader=dict(loader, sampler=dict(type='DefaultSampler',
                                                                  shuffle=False)),
                      val_cfg=dict(), val_evaluator=Evaluator(Score()))
    torch.manual_seed(1234)  # the model is built here, before the Runner seeds
    runner_cls = ReplRunner if runner == 'ReplRunner' else Runner
    return runner_cls(
        model=ToyClassifier(nan_at_iter), work_dir=work_dir, experiment_name=name,
        train_dataloader=loader, train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        default_hooks=dict(checkpoint=ckpt, logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=hooks, randomness=dict(seed=seed), resume=resume,
        env_cfg=dict(dist_cfg=dict(backend='gloo')), log_level='WARNING', **kwargs)


def main(argv):
    """``python tiny_run.py '{"work_dir": ..., "name": ..., "kill_during_save_of": ...}'``"""
    torch.set_num_threads(1)
    kwargs = json.loads(argv[0])
    target = kwargs.pop('kill_during_save_of', None)
    if target:
        kill_during_save_of(target)
    build_runner(**kwargs).train()


if __name__ == '__main__':
    main(sys.argv[1:])
