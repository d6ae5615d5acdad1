"""Runtime shared by every repl-mm classification config (mmpretrain scope).

Inherits mmpretrain's ``default_runtime`` and adds what every config of this repository
needs: ``custom_imports`` that registers the RepL backbones (``repl_mm``) and the SVHN /
STL-10 dataset classes (``repl_mm.datasets``) in mmpretrain's registries.
"""
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['repl_mm', 'repl_mm.datasets'], allow_failed_imports=False)

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
default_scope = 'mmpretrain'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    # keep the last three epochs (resume) plus the best one by the first metric (top-1)
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'))
