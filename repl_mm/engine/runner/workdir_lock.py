"""One run per work dir.

Two runs on one work dir overwrite each other's checkpoints (and each other's temporary files).
:func:`acquire_workdir_lock` takes ``WORK_DIR/.repl_mm.lock`` (created with ``O_EXCL``, so two
runs racing for it cannot both get it; it holds ``host``, ``pid`` and the process's start time)
before anything is built. A second run on a busy work dir stops with :class:`WorkDirBusyError`,
one line naming the work dir, the holder and the fix. A lock whose process is gone (same host,
no such process, or another process under that PID) is taken over with a warning: a run killed
with ``kill -9`` does not block its own resume. A lock of another host is trusted (its process
cannot be checked from here): the message says how to remove it if that run is gone -- except a
lock of the same slurm job (``SLURM_JOB_ID``): a requeued job takes over its own lock on any node.

Multi-process and multi-node runs take it once, on global rank 0 (``RANK`` / ``SLURM_PROCID``);
the lock is released when the process exits (normally, by an exception or by ``SystemExit``).
"""
import atexit
import json
import logging
import os
import os.path as osp
import socket
import time
from typing import Optional

from mmengine.logging import print_log

__all__ = ['LOCK_NAME', 'WorkDirBusyError', 'WorkDirLock', 'acquire_workdir_lock',
           'global_rank']

LOCK_NAME = '.repl_mm.lock'


class WorkDirBusyError(RuntimeError):
    """Another live run holds the work dir."""


def global_rank() -> int:
    """This process's global rank from the launcher's environment (0 without one)."""
    for key in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        value = os.environ.get(key)
        if value not in (None, ''):
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _start_time(pid: int) -> Optional[str]:
    """The process's start time (field 22 of /proc/PID/stat), None where unknown."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkDirLock:
    """The lock file of one work dir, held by this process (see the module docstring)."""

    def __init__(self, work_dir: str) -> None:
        self.work_dir = osp.abspath(work_dir)
        self.path = osp.join(self.work_dir, LOCK_NAME)
        self.held = False

    def _record(self) -> dict:
        pid = os.getpid()
        return dict(host=socket.gethostname(), pid=pid, start=_start_time(pid),
                    time=time.strftime('%Y-%m-%d %H:%M:%S'),
                    slurm_job=os.environ.get('SLURM_JOB_ID') or None)

    def _read(self) -> Optional[dict]:
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _stale(self, holder: Optional[dict]) -> bool:
        if holder is None:  # unreadable or half-written: the writer died between two calls
            return True
        job = os.environ.get('SLURM_JOB_ID')
        if job and holder.get('slurm_job') == job:
            return True  # this slurm job's earlier run, before a requeue (maybe on another node)
        if holder.get('host') != socket.gethostname():
            return False
        pid = holder.get('pid')
        if not isinstance(pid, int) or not _alive(pid):
            return True
        start = holder.get('start')
        return start is not None and _start_time(pid) not in (None, start)

    def acquire(self) -> 'WorkDirLock':
        """Takes the lock.

        Raises:
            WorkDirBusyError: a live run holds it.
        """
        os.makedirs(self.work_dir, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._read()
                if not self._stale(holder):
                    who = (f"{holder.get('host')} PID {holder.get('pid')} (since "
                           f"{holder.get('time')})") if holder else 'another run'
                    raise WorkDirBusyError(
                        f'work dir {self.work_dir} is in use by the run of {who}: wait for it '
                        'to end, or pass another --work-dir; if that run is gone, delete '
                        f'{self.path}')
                who = (f"{holder.get('host')} PID {holder.get('pid')}" if holder
                       else 'an unreadable lock')
                print_log(f'work dir {self.work_dir}: taking over the lock of {who}, whose '
                          'process is gone.', logger='current', level=logging.WARNING)
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(self._record(), f)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            atexit.register(self.release)
            return self
        raise WorkDirBusyError(f'work dir {self.work_dir}: could not take {self.path} '
                               '(another run keeps taking it); pass another --work-dir')

    def release(self) -> None:
        """Removes the lock file if this process holds it (never another run's)."""
        if not self.held:
            return
        self.held = False
        holder = self._read()
        if holder and holder.get('pid') == os.getpid() \
                and holder.get('host') == socket.gethostname():
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire() if not self.held else self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire_workdir_lock(work_dir: str, rank: Optional[int] = None) -> Optional[WorkDirLock]:
    """Takes ``work_dir``'s lock on global rank 0; other ranks get None.

    Raises:
        WorkDirBusyError: a live run holds the work dir.
    """
    if (global_rank() if rank is None else rank) != 0:
        return None
    return WorkDirLock(work_dir).acquire()
