"""Crash-safe writing: a file is written to a temporary file in the same directory, flushed and
fsync'ed, renamed over the target (``os.replace``, atomic on POSIX) and the directory fsync'ed,
so a reader sees the old file or the complete new one, never a partial one.

* :func:`atomic_write` / :func:`atomic_write_text`: any file (``last_checkpoint``, ...);
* :func:`atomic_save_checkpoint`: ``mmengine.runner.save_checkpoint`` with an atomic local write;
* :func:`publish_temporary`: makes a file written under :func:`temporary_name` durable and
  renames it over its target (what :class:`~repl_mm.engine.runner.repl_runner.ReplRunner` does
  after mmengine's ``Runner.save_checkpoint`` wrote the checkpoint to the temporary name).

Remote backends (``s3://`` ...) keep mmengine's single ``put`` (object stores publish an object
atomically). Nothing here changes mmengine; the runner and the checkpoint hook call it.
"""
import os
import os.path as osp
import uuid
from typing import Any, Callable, Optional

import torch

__all__ = ['atomic_write', 'atomic_write_text', 'atomic_save_checkpoint', 'is_local',
           'temporary_name', 'publish_temporary', 'remove_path', 'TMP_MARKER']

#: temporary files are named ``.<target name>.tmp-<pid>-<random>``
TMP_MARKER = '.tmp-'


def _sync(f: Any) -> None:
    """Flushes ``f`` and fsyncs its file descriptor (a seam for fault-injection tests)."""
    f.flush()
    os.fsync(f.fileno())


def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # e.g. a platform that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(name: str) -> str:
    """``.<name>.tmp-<pid>-<random>``: the temporary file a save of ``name`` writes first."""
    return f'.{name}{TMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}'


def publish_temporary(tmp: str, path: str) -> None:
    """Makes the complete temporary file ``tmp`` durable (fsync) and renames it over ``path``
    (atomic), then fsyncs the directory and removes temporaries of ``path`` left by killed
    saves. On an error ``tmp`` is removed and ``path`` is unchanged.

    Args:
        tmp (str): a file in ``path``'s directory, written completely and closed.
        path (str): the target file.
    """
    dirname = osp.dirname(osp.abspath(path))
    try:
        with open(tmp, 'r+b') as f:
            _sync(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(dirname)
    _remove_stale_temporaries(dirname, osp.basename(path))


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Writes a file so that ``path`` is never seen incomplete.

    Args:
        path (str): the target file; its directory is created if missing.
        write (callable): ``write(f)`` writes the content to the binary file object ``f``.
    """
    path = osp.abspath(osp.expanduser(str(path)))
    dirname = osp.dirname(path)
    os.makedirs(dirname, exist_ok=True)
    tmp = osp.join(dirname, temporary_name(osp.basename(path)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            _sync(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(dirname)
    _remove_stale_temporaries(dirname, osp.basename(path))


def _remove_stale_temporaries(dirname: str, name: str) -> None:
    """Deletes the temporary files of ``name`` left by saves that were killed (a complete
    ``name`` now exists, so they hold nothing that is not in it or older)."""
    prefix = f'.{name}{TMP_MARKER}'
    for entry in os.listdir(dirname):
        if entry.startswith(prefix):
            try:
                os.unlink(osp.join(dirname, entry))
            except OSError:
                pass


def atomic_write_text(path: str, text: str) -> None:
    """:func:`atomic_write` of a UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


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
