"""repl_mm.utils.atomic_write: the one crash-safe write (temporary file, fsync, rename)."""
import os

import pytest

from repl_mm.utils import atomic_write as aw


def test_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'sub' / 'out.json'
    aw.atomic_write_text(str(path), 'old')
    aw.atomic_write_text(str(path), 'new\n')
    assert path.read_text() == 'new\n'
    assert sorted(os.listdir(path.parent)) == ['out.json']


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pth'
    path.write_bytes(b'complete')

    def broken(f):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(aw, '_sync', broken)  # the seam the fault-injection tests use
    with pytest.raises(OSError, match='No space left'):
        aw.atomic_write(str(path), lambda f: f.write(b'half'))
    assert path.read_bytes() == b'complete'
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pth']


def _dead_pid() -> int:
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)     # exited and reaped: no process has this pid now


def test_publish_temporary_removes_stale_temporaries(tmp_path):
    """A killed save's leftover (this host, a process that no longer runs) is removed; one of a
    live process (a save in flight) or of another host is kept."""
    path = tmp_path / 'model.onnx'
    prefix = '.model.onnx' + aw.TMP_MARKER
    stale = tmp_path / f'{prefix}{aw._HOST}-{_dead_pid()}-0000aaaa'
    stale.write_bytes(b'killed save')
    live = tmp_path / f'{prefix}{aw._HOST}-{os.getppid()}-0000bbbb'
    live.write_bytes(b'in flight')
    other = tmp_path / f'{prefix}another-host-{_dead_pid()}-0000cccc'
    other.write_bytes(b'another host')
    tmp = tmp_path / aw.temporary_name('model.onnx')
    tmp.write_bytes(b'done')
    aw.publish_temporary(str(tmp), str(path))
    assert path.read_bytes() == b'done'
    assert sorted(os.listdir(tmp_path)) == sorted(['model.onnx', live.name, other.name])


def test_concurrent_writers_of_one_file_all_succeed(tmp_path):
    """Two runs (or threads) publishing the same file at once: each rename finds its own
    temporary (a stale-temporary sweep once removed the other's: FileNotFoundError)."""
    import threading
    path = tmp_path / 'multi_seed.json'
    errors = []

    def writer(k):
        for i in range(40):
            try:
                aw.atomic_write_text(str(path), f'{k} {i}\n')
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_text().split()[1] == '39'
    assert [n for n in os.listdir(tmp_path) if aw.TMP_MARKER in n] == []


def test_engine_and_deploy_use_the_one_implementation():
    from repl_mm.deploy import fold
    from repl_mm.engine.fileio import atomic
    assert atomic.atomic_write is aw.atomic_write
    assert atomic.publish_temporary is aw.publish_temporary
    assert 'atomic_write' in fold.atomic_save.__code__.co_names
