"""One clear line for a checkpoint that cannot be written.

A full disk during ``torch.save`` surfaces as a 45-line chained traceback ending in
``RuntimeError: [enforce fail at inline_container.cc:672]``, and the run's log says nothing.
:func:`describe_write_error` turns any failure of the write (disk full, quota, permission, a
read-only file system, a directory in the way) into :class:`CheckpointWriteError`: the path,
the free space there and the size needed, and logs that line (``print_log``, level ERROR) so
the run's log file records it. The crash-safe writer (:mod:`repl_mm.engine.fileio.atomic`) has
then removed its temporary file and deleted no earlier checkpoint.
"""
import errno
import logging
import os
import os.path as osp
import shutil
from typing import Any, Optional

from mmengine.logging import print_log

__all__ = ['CheckpointWriteError', 'describe_write_error', 'checkpoint_nbytes']

_REASONS = {
    errno.ENOSPC: 'no space left on the device',
    errno.EDQUOT: 'disk quota exceeded',
    errno.EACCES: 'permission denied',
    errno.EPERM: 'operation not permitted',
    errno.EROFS: 'read-only file system',
    errno.EISDIR: 'a directory is in the way',
    errno.ENOTDIR: 'a file is in the way of a directory on the path',
    errno.EEXIST: 'a file is in the way of a directory on the path',
}


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; earlier checkpoints are untouched."""

    def __str__(self) -> str:
        return str(self.args[-1])


def checkpoint_nbytes(obj: Any) -> int:
    """About the bytes ``torch.save(obj)`` writes: the sum of its tensors' sizes."""
    import torch
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(checkpoint_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(checkpoint_nbytes(v) for v in obj)
    return 0


def _errno_of(exc: BaseException) -> Optional[int]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc.errno
        if 'No space left' in str(exc):
            return errno.ENOSPC
        exc = exc.__cause__ or exc.__context__
    return None


def _free_bytes(path: str) -> Optional[int]:
    d = osp.dirname(osp.abspath(path))
    while d and not osp.isdir(d):
        d = osp.dirname(d)
    try:
        return shutil.disk_usage(d).free
    except OSError:
        return None


def _mib(n: Optional[int]) -> str:
    return 'unknown' if n is None else f'{n / 2**20:.1f} MiB'


def describe_write_error(path: str, exc: BaseException, needed: Optional[int] = None
                         ) -> CheckpointWriteError:
    """The one-line error for ``exc`` raised while writing ``path`` (logged at ERROR).

    Args:
        path (str): the checkpoint being written.
        exc (BaseException): what the write raised (``OSError``, torch's ``RuntimeError``).
        needed (int, optional): the checkpoint's size in bytes (about).
    """
    code = _errno_of(exc)
    free = _free_bytes(path)
    if code is None and free is not None and needed and free < needed + (1 << 20):
        # torch's zip writer reports a full disk without an errno ("file write failed",
        # "unexpected pos ..."): what is free there says it
        code = errno.ENOSPC
    reason = _REASONS.get(code) if code is not None else None
    if reason is None:
        reason = (os.strerror(code) if code is not None
                  else f'{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ""}')
    line = (f'cannot save checkpoint {path}: {reason} ({_mib(free)} free there, about '
            f'{_mib(needed)} needed); the earlier checkpoints are kept. Free space or fix the '
            'permissions, then resume with --resume')
    print_log(line, logger='current', level=logging.ERROR)
    err = CheckpointWriteError(code or errno.EIO, line)
    err.path, err.free, err.needed = path, free, needed
    return err
