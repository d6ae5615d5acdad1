"""Checkpoint I/O of repl-mm, through mmengine's extension points.

* :mod:`.safe_load`: :func:`safe_torch_load` (``weights_only=True`` with the allowlist of what
  mmengine saves) and its errors;
* :mod:`.loaders`: a safe loader for every scheme of ``CheckpointLoader``, registered with
  ``CheckpointLoader.register_scheme(..., force=True)`` when this package is imported;
* :mod:`.atomic`: crash-safe (temporary file, fsync, atomic rename) writing;
* :mod:`.save_errors`: one line for a failed save (disk full, permission, a directory in the
  way).
"""
from .atomic import (
                     TMP_MARKER,
                     atomic_save_checkpoint,
                     atomic_write,
                     atomic_write_text,
                     publish_temporary,
                     temporary_name,
)
from .loaders import SAFE_SCHEMES, register_safe_schemes, safe_schemes_registered
from .safe_load import (
                     MMENGINE_SAFE_GLOBALS,
                     CorruptCheckpointError,
                     NotACheckpointError,
                     UnsafeCheckpointError,
                     describe_non_checkpoint,
                     is_refusal,
                     safe_globals,
                     safe_torch_load,
)
from .save_errors import CheckpointWriteError, describe_write_error

__all__ = ['TMP_MARKER', 'atomic_save_checkpoint', 'atomic_write', 'atomic_write_text',
           'publish_temporary', 'temporary_name', 'SAFE_SCHEMES', 'register_safe_schemes',
           'safe_schemes_registered', 'MMENGINE_SAFE_GLOBALS', 'CorruptCheckpointError',
           'NotACheckpointError', 'UnsafeCheckpointError', 'describe_non_checkpoint',
           'is_refusal', 'safe_globals', 'safe_torch_load', 'CheckpointWriteError',
           'describe_write_error']

register_safe_schemes()
