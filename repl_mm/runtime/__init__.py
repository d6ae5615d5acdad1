"""Runtime support shared by ``tools/train.py``, ``tools/test.py`` and the demos.

* :mod:`.scope`: picks mmdet, mmseg or mmpretrain from the config's ``default_scope``;
* :mod:`.dist`: torchrun / slurm multi-process runs;
* :mod:`.checkpoint`: safe (``weights_only``) checkpoint loading for resume, ``load_from`` and
  pretrained weights; :mod:`.safe_save`: crash-safe (atomic) checkpoint saving and rotation;
  :mod:`.resume`: auto-resume from the newest loadable checkpoint -- all three installed once
  by ``import repl_mm``;
* :mod:`.hooks`: ``NonFiniteLossHook`` and ``RNGStateHook`` (added to every training config);
* :mod:`.config_checks`: unknown ``--cfg-options`` keys, SyncBN on CPU multi-process runs;
* :mod:`.runner`: the CLI-to-config merging of the toolboxes' tools and ``build_runner``.

The names below are imported lazily on first use, so ``import repl_mm`` does not import the
runtime's CLI code.

Measurements live in :mod:`repl_mm.analysis`, synthetic data in :mod:`repl_mm.testing`.
"""
import importlib
from typing import Any

_EXPORTS = {
    'MMENGINE_SAFE_GLOBALS': 'checkpoint', 'UnsafeCheckpointError': 'checkpoint',
    'install_safe_checkpoint_loading': 'checkpoint', 'safe_torch_load': 'checkpoint',
    'LAUNCHERS': 'dist', 'setup_distributed': 'dist',
    'NonFiniteLossError': 'hooks', 'NonFiniteLossHook': 'hooks', 'RNGStateHook': 'hooks',
    'NoLoadableCheckpointError': 'resume', 'install_resume_fallback': 'resume',
    'install_crash_safe_saving': 'safe_save',
    'add_result_dump': 'runner', 'build_runner': 'runner', 'default_work_dir': 'runner',
    'load_config': 'runner', 'merge_test_args': 'runner', 'merge_train_args': 'runner',
    'TOOLBOX_SCOPES': 'scope', 'detect_scope': 'scope', 'setup_scope': 'scope',
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'.{_EXPORTS[name]}', __name__), name)
