"""A tiny training run for the cluster tests, run as a real subprocess (one per rank).

``python cluster_run.py JSON`` with keys:

* ``work_dir``; ``epochs`` (4 iterations an epoch per process); ``loop``: ``'resumable'``
  (:class:`~repl_mm.engine.loops.ResumableEpochBasedTrainLoop`) or ``'default'`` (mmengine's);
* ``num_workers``, ``persistent_workers``; ``resume`` (bool);
* ``preempt`` (bool): :class:`~repl_mm.engine.hooks.PreemptionCheckpointHook`;
* ``sleep``: seconds slept after each iteration (a window for the test's signal);
* ``interval``: checkpoint interval (epochs).

With ``RANK`` / ``WORLD_SIZE`` / ``MASTER_ADDR`` / ``MASTER_PORT`` in the environment it joins a
gloo process group (one process per rank, DDP on CPU). After each iteration rank 0 prints
``ITER n`` (flushed), so a test can signal it at a known point. The data (16 images per rank,
random flip / crop / noise drawn from Python, numpy and torch) and the model (conv, dropout,
linear) come from ``tests/engine/tiny_run.py``.
"""
import json
import os
import sys
import time

import torch
from mmengine.hooks import Hook

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
for p in (ROOT, os.path.join(ROOT, 'tests', 'engine')):
    if p not in sys.path:
        sys.path.insert(0, p)

from tiny_run import AugmentedToySet, ToyClassifier  # noqa: E402

import repl_mm  # noqa: E402,F401


class Tick(Hook):
    priority = 'LOWEST'

    def __init__(self, sleep: float) -> None:
        self.sleep = sleep

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if int(os.environ.get('RANK', '0')) == 0:
            print(f'ITER {runner.iter + 1}', flush=True)
        if self.sleep:
            time.sleep(self.sleep)


def build(work_dir: str, epochs: int = 3, loop: str = 'resumable', num_workers: int = 0,
          persistent_workers: bool = False, resume: bool = False, preempt: bool = True,
          sleep: float = 0.0, interval: int = 1, fingerprint: bool = True):
    from mmengine.runner import Runner
    world = int(os.environ.get('WORLD_SIZE', '1'))
    launcher = 'none'
    if world > 1:
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group('gloo', rank=int(os.environ['RANK']), world_size=world)
        launcher = 'pytorch'
    loader = dict(dataset=AugmentedToySet(16 * world), batch_size=4,
                  sampler=dict(type='DefaultSampler', shuffle=True),
                  num_workers=num_workers, persistent_workers=persistent_workers,
                  collate_fn=dict(type='default_collate'))
    train_cfg = (dict(type='ResumableEpochBasedTrainLoop', max_epochs=epochs)
                 if loop == 'resumable' else dict(by_epoch=True, max_epochs=epochs))
    hooks = [dict(type='RNGStateHook'), Tick(sleep)]
    if preempt:
        hooks.append(dict(type='PreemptionCheckpointHook'))
    if fingerprint:
        hooks.append(dict(type='ModelFingerprintHook'))
    torch.manual_seed(1234)
    kwargs = {}
    if world > 1:
        kwargs['cfg'] = dict(model_wrapper_cfg=dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False))
    return Runner(
        model=ToyClassifier(), work_dir=work_dir, experiment_name=f'run{os.getpid()}',
        train_dataloader=loader, train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[2], by_epoch=True),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=interval,
                                           max_keep_ckpts=-1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=hooks, randomness=dict(seed=0), resume=resume, launcher=launcher,
        env_cfg=dict(dist_cfg=dict(backend='gloo')), log_level='INFO', **kwargs)


def main(argv):
    torch.set_num_threads(1)
    spec = json.loads(argv[0])
    teardown = spec.pop('teardown', True)
    if teardown:  # what tools/train.py does (issue 23 item 7a)
        from repl_mm.engine.runner.cluster import run_to_the_end
        run_to_the_end(lambda: build(**spec).train())
    else:
        runner = build(**spec)
        runner.train()


if __name__ == '__main__':
    main(sys.argv[1:])
