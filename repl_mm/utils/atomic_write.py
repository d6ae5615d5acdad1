"""Crash-safe writing, the one implementation in repl_mm: a file is written to a temporary file
in the same directory, flushed and fsync'ed, renamed over the target (``os.replace``, atomic on
POSIX) and the directory fsync'ed, so a reader sees the old file or the complete new one, never
a partial one. Standard library only.

* :func:`atomic_write` / :func:`atomic_write_text`: any file (checkpoints through
  ``repl_mm.engine.fileio.atomic.atomic_save_checkpoint``, deploy checkpoints, JSON records,
  reports, ``last_checkpoint``, data files);
* :func:`publish_temporary`: makes a file written under :func:`temporary_name` (or any complete
  temporary file in the target's folder, e.g. an ONNX export) durable and renames it over its
  target.

:func:`_sync` is the one place a file is flushed and fsync'ed (a seam for fault-injection
tests: ``monkeypatch.setattr(repl_mm.utils.atomic_write, '_sync', ...)``).
"""
import os
import os.path as osp
import socket
import uuid
from typing import Any, Callable

__all__ = ['atomic_write', 'atomic_write_text', 'temporary_name', 'publish_temporary',
           'TMP_MARKER']

#: temporary files are named ``.<target name>.tmp-<host>-<pid>-<random>``
TMP_MARKER = '.tmp-'
_HOST = socket.gethostname().replace('/', '_') or 'host'


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
    """``.<name>.tmp-<host>-<pid>-<random>``: the temporary file a save of ``name`` writes
    first (host and process tell a killed save's leftover from a save in flight)."""
    return f'.{name}{TMP_MARKER}{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}'


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
        write (callable): ``write(f)`` writes the content to the binary file object ``f``;
            the file is then closed and published by :func:`publish_temporary`.
    """
    path = osp.abspath(osp.expanduser(str(path)))
    dirname = osp.dirname(path)
    os.makedirs(dirname, exist_ok=True)
    tmp = osp.join(dirname, temporary_name(osp.basename(path)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    publish_temporary(tmp, path)   # fsync, rename, folder fsync, stale temporaries removed


def _writer_is_gone(rest: str) -> bool:
    """Whether the save that named its temporary ``<host>-<pid>-<random>`` (``rest``) is over:
    written on this host by a process that no longer runs. A temporary of a live process (another
    run writing the same file, another thread of this one) or of another host (a shared file
    system) may be a save in flight and is kept."""
    parts = rest.rsplit('-', 2)
    if len(parts) != 3 or parts[0] != _HOST:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:   # exists, owned by another user
        return False
    return False


def _remove_stale_temporaries(dirname: str, name: str) -> None:
    """Deletes the temporary files of ``name`` left by saves that were killed (a complete
    ``name`` now exists, so they hold nothing that is not in it or older). Never one of a save
    that may still be running: concurrent writers of one file (two seeds of a config updating
    its ``multi_seed.json``) each publish their own."""
    prefix = f'.{name}{TMP_MARKER}'
    for entry in os.listdir(dirname):
        if entry.startswith(prefix) and _writer_is_gone(entry[len(prefix):]):
            try:
                os.unlink(osp.join(dirname, entry))
            except OSError:
                pass


def atomic_write_text(path: str, text: str) -> None:
    """:func:`atomic_write` of a UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))
