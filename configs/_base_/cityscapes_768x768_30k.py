"""The CityScapes recipe of the paper §IV-D1g (Table XIV), shared by the eight DeepLab configs.

mmseg's own CityScapes 768x768 dataset config (random resize of the 2048x1024 images by
0.5-2.0, 768x768 crops, flip, photometric distortion; full-resolution test), runtime and
poly schedule, with the paper's optimisation: SGD, lr 0.1, batch 16 on ONE GPU, 30k
iterations. Momentum 0.9, weight decay 5e-4 and the poly decay (power 0.9) are mmseg's
defaults (the paper does not give them). Evaluation: aAcc, mIoU and mAcc (``IoUMetric``).
"""
_base_ = [
    'mmseg::_base_/datasets/cityscapes_768x768.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
]

custom_imports = dict(imports=['repl_mm'], allow_failed_imports=False)

# Stop at the first NaN/inf loss, and keep the random state in every checkpoint for a bit-exact
# resume (repl_mm.engine.hooks, docs/training.md). To train on through a NaN loss:
# custom_hooks = [dict(type='NonFiniteLossHook', enabled=False), dict(type='RNGStateHook'), ...]
# On a cluster (docs/training.md): a checkpoint on SIGTERM/SIGUSR1, and resume refuses a
# changed model.
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RNGStateHook'),
                dict(type='PreemptionCheckpointHook'), dict(type='ModelFingerprintHook')]
# ReplRunner (repl_mm.engine): safe weights_only loading, auto-resume from the newest loadable
# checkpoint and crash-safe saves; SafeCheckpointHook deletes an old checkpoint only after the
# new one is durable (docs/training.md)
runner_type = 'ReplRunner'
default_scope = 'mmseg'

train_dataloader = dict(batch_size=16, num_workers=8)

optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=30000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=30000, val_interval=3000)
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=3000, max_keep_ckpts=3))
