"""Crash-safe checkpoint writing on top of :mod:`repl_mm.utils.atomic_write` (the one
implementation of the atomic write: temporary file in the same directory, fsync, ``os.replace``,
directory fsync; a reader sees the old file or the complete new one, never a partial one).

* :func:`atomic_write` / :func:`atomic_write_text` / :func:`publish_temporary` /
  :func:`temporary_name`: re-exported from :mod:`repl_mm.utils.atomic_write`;
* :func:`atomic_save_checkpoint`: ``mmengine.runner.save_checkpoint`` with an atomic local write;
* :func:`publish_temporary` is what :class:`~repl_mm.engine.runner.repl_runner.ReplRunner` does
  after mmengine's ``Runner.save_checkpoint`` wrote the checkpoint to the temporary name.

Remote backends (``s3://`` ...) keep mmengine's single ``put`` (object stores publish an object
atomically). Nothing here changes mmengine; the runner and the checkpoint hook call it.
Fault-injection tests patch ``repl_mm.utils.atomic_write._sync``.
"""
from typing import Any, Optional

import torch

from ...utils.atomic_write import (
    TMP_MARKER,
    atomic_write,
    atomic_write_text,
    publish_temporary,
    temporary_name,
)

__all__ = ['atomic_write', 'atomic_write_text', 'atomic_save_checkpoint', 'is_local',
           'temporary_name', 'publish_temporary', 'remove_path', 'TMP_MARKER']


def is_local(filename: str, file_client_args: Optional[dict],
              backend_args: Optional[dict]) -> bool:
    from mmengine.fileio import FileClient, get_file_backend
    from mmengine.fileio.backends import LocalBackend
    if file_client_args is not None:
        client = FileClient.infer_client(file_client_args, filename)
        return isinstance(client.client, LocalBackend)
    return isinstance(get_file_backend(filename, backend_args=backend_args), LocalBackend)


def atomic_save_checkpoint(checkpoint: dict, filename: str,
                           file_client_args: Optional[dict] = None,
                           backend_args: Optional[dict] = None) -> None:
    """``mmengine.runner.checkpoint.save_checkpoint`` with an atomic local write.

    Args:
        checkpoint (dict): what to save.
        filename (str): the target path (or URI).
        file_client_args (dict, optional): as for mmengine (deprecated there).
        backend_args (dict, optional): as for mmengine.
    """
    if filename.startswith('pavi://') or not is_local(filename, file_client_args,
                                                       backend_args):
        from mmengine.runner.checkpoint import save_checkpoint
        return save_checkpoint(checkpoint, filename, file_client_args, backend_args)
    if file_client_args is not None and backend_args is not None:
        raise ValueError('"file_client_args" and "backend_args" cannot be set at the same '
                         'time.')
    try:
        atomic_write(filename, lambda f: torch.save(checkpoint, f))
    except (OSError, RuntimeError) as e:  # disk full, permission, a directory in the way
        from .save_errors import checkpoint_nbytes, describe_write_error
        raise describe_write_error(filename, e, checkpoint_nbytes(checkpoint)) from None


def remove_path(backend: Any, path: str) -> None:
    """Removes a checkpoint file (or a deepspeed checkpoint directory) through ``backend``."""
    if backend.isfile(path):
        backend.remove(path)
    elif backend.isdir(path):  # checkpoints saved by deepspeed are directories
        backend.rmtree(path)
