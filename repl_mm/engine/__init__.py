"""repl-mm's mmengine extensions, one per module, through mmengine's extension points only.

Imported by ``import repl_mm``; importing registers (and changes nothing else in mmengine, torch
or the environment):

* :mod:`.fileio`: safe (``weights_only``) loaders for every checkpoint scheme,
  ``CheckpointLoader.register_scheme(..., force=True)``; crash-safe writing;
* :mod:`.runner.repl_runner`: ``ReplRunner`` in ``RUNNERS`` (``runner_type='ReplRunner'``);
* :mod:`.hooks`: ``SafeCheckpointHook``, ``NonFiniteLossHook``, ``RNGStateHook``,
  ``AdaptiveRepLHook``, ``PreemptionCheckpointHook``, ``ModelFingerprintHook`` in ``HOOKS``;
* :mod:`.loops`: ``ResumableEpochBasedTrainLoop`` in ``LOOPS`` (exact mid-epoch resume).

The cluster pieces (issue 30): :mod:`.hooks.preemption_hook`,
:mod:`.hooks.model_fingerprint_hook`, :mod:`.loops.resumable_loop`,
:mod:`.runner.workdir_lock` and :mod:`.runner.cluster`.

The tools' support (:mod:`.runner.build`: config loading, CLI merging, ``build_runner``;
:mod:`.runner.scope`, :mod:`.runner.dist`, :mod:`.runner.config_checks`) is imported lazily on
first use of a name below, so ``import repl_mm`` does not import the CLI code.
"""
import importlib
from typing import Any

from . import fileio, hooks, loops  # noqa: F401  registers the schemes, hooks, loop
from .fileio import (
    CorruptCheckpointError,
    NotACheckpointError,
    UnsafeCheckpointError,
    safe_torch_load,
)
from .hooks import (
    ModelChangedError,
    ModelFingerprintHook,
    NonFiniteLossError,
    PreemptionCheckpointHook,
    SafeCheckpointHook,
)
from .loops import ResumableEpochBasedTrainLoop
from .runner.repl_runner import ReplRunner
from .runner.resume import NoLoadableCheckpointError

_LAZY = {
    'LAUNCHERS': 'runner.dist', 'setup_distributed': 'runner.dist',
    'add_result_dump': 'runner.build', 'build_runner': 'runner.build',
    'default_work_dir': 'runner.build', 'load_config': 'runner.build',
    'merge_test_args': 'runner.build', 'merge_train_args': 'runner.build',
    'TOOLBOX_SCOPES': 'runner.scope', 'detect_scope': 'runner.scope',
    'setup_scope': 'runner.scope',
}

__all__ = ['ReplRunner', 'SafeCheckpointHook', 'PreemptionCheckpointHook',
           'ModelFingerprintHook', 'ModelChangedError', 'ResumableEpochBasedTrainLoop',
           'CorruptCheckpointError', 'NotACheckpointError',
           'UnsafeCheckpointError', 'NoLoadableCheckpointError', 'NonFiniteLossError',
           'safe_torch_load', *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'.{_LAZY[name]}', __name__), name)
