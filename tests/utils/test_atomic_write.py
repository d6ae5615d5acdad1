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


def test_publish_temporary_removes_stale_temporaries(tmp_path):
    path = tmp_path / 'model.onnx'
    stale = tmp_path / aw.temporary_name('model.onnx')
    stale.write_bytes(b'killed save')
    tmp = tmp_path / aw.temporary_name('model.onnx')
    tmp.write_bytes(b'done')
    aw.publish_temporary(str(tmp), str(path))
    assert path.read_bytes() == b'done'
    assert sorted(os.listdir(tmp_path)) == ['model.onnx']


def test_engine_and_deploy_use_the_one_implementation():
    from repl_mm.deploy import fold
    from repl_mm.engine.fileio import atomic
    assert atomic.atomic_write is aw.atomic_write
    assert atomic.publish_temporary is aw.publish_temporary
    assert 'atomic_write' in fold.atomic_save.__code__.co_names
