"""Issue 30 items 5-7 in-process (fast): the work-dir lock, the changed-model table, write
errors during a save."""
import errno
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from repl_mm.engine.fileio.save_errors import CheckpointWriteError
from repl_mm.engine.hooks.model_fingerprint_hook import (
    ModelChangedError,
    ModelFingerprintHook,
    flatten_model_config,
)
from repl_mm.engine.runner.workdir_lock import (
    LOCK_NAME,
    WorkDirBusyError,
    WorkDirLock,
    acquire_workdir_lock,
)


# -- item 5: one run per work dir --------------------------------------------------------------
def test_busy_work_dir_refused_in_one_line(tmp_path):
    """A live holder (a real other process) makes the second run stop with one line naming
    the work dir, the holder and the fix; nothing of the holder's is removed."""
    holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        os.makedirs(tmp_path / 'w')
        with open(tmp_path / 'w' / LOCK_NAME, 'w') as f:
            json.dump(dict(host=socket.gethostname(), pid=holder.pid, start=None,
                           time='now'), f)
        with pytest.raises(WorkDirBusyError) as e:
            acquire_workdir_lock(str(tmp_path / 'w'), rank=0)
        msg = str(e.value)
        assert '\n' not in msg
        assert str(tmp_path / 'w') in msg and f'PID {holder.pid}' in msg
        assert socket.gethostname() in msg and '--work-dir' in msg
        assert json.load(open(tmp_path / 'w' / LOCK_NAME))['pid'] == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_taken_over_and_released(tmp_path):
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    os.makedirs(tmp_path / 'w')
    with open(tmp_path / 'w' / LOCK_NAME, 'w') as f:
        json.dump(dict(host=socket.gethostname(), pid=dead.pid, start=None, time='then'), f)
    lock = acquire_workdir_lock(str(tmp_path / 'w'), rank=0)
    assert json.load(open(tmp_path / 'w' / LOCK_NAME))['pid'] == os.getpid()
    with pytest.raises(WorkDirBusyError):  # held now: a second taker in this process too
        WorkDirLock(str(tmp_path / 'w')).acquire()
    lock.release()
    assert not osp.exists(tmp_path / 'w' / LOCK_NAME)


def test_requeued_slurm_job_takes_over_its_own_lock_from_another_node(tmp_path, monkeypatch):
    os.makedirs(tmp_path / 'w')
    lock = dict(host='node-a', pid=1, start=None, time='then', slurm_job='42')
    with open(tmp_path / 'w' / LOCK_NAME, 'w') as f:
        json.dump(lock, f)
    monkeypatch.setenv('SLURM_JOB_ID', '43')  # another job: node-a cannot be checked
    with pytest.raises(WorkDirBusyError, match='node-a PID 1'):
        acquire_workdir_lock(str(tmp_path / 'w'), rank=0)
    monkeypatch.setenv('SLURM_JOB_ID', '42')
    acquire_workdir_lock(str(tmp_path / 'w'), rank=0).release()


def test_other_ranks_take_no_lock(tmp_path):
    assert acquire_workdir_lock(str(tmp_path / 'w'), rank=1) is None
    assert not osp.exists(tmp_path / 'w' / LOCK_NAME)


def test_release_never_removes_another_runs_lock(tmp_path):
    lock = WorkDirLock(str(tmp_path)).acquire()
    with open(lock.path, 'w') as f:  # another run took it over meanwhile
        json.dump(dict(host='elsewhere', pid=1, start=None, time='x'), f)
    lock.release()
    assert osp.exists(lock.path)


# -- item 6: resume refuses a changed model ---------------------------------------------------
MODEL = dict(type='ImageClassifier',
             backbone=dict(type='CifarResNetRepL', depth=32, interval=3,
                           init_cfg=dict(type='Kaiming')),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=64))


class _Runner:
    def __init__(self, model_cfg, resume=True, module=None):
        from mmengine.config import Config
        self.cfg = Config(dict(model=model_cfg))
        self._resume = resume
        self.model = module if module is not None else torch.nn.Linear(2, 2)


def _saved(model_cfg, module=None):
    ckpt = {}
    ModelFingerprintHook().before_save_checkpoint(_Runner(model_cfg, module=module), ckpt)
    return ckpt


@pytest.mark.parametrize('key,value,shown', [
    ('head.num_classes', 12, 'model.head.num_classes: 10 in the checkpoint, 12 now'),
    ('backbone.interval', 2, 'model.backbone.interval: 3 in the checkpoint, 2 now'),
    ('backbone.depth', 56, 'model.backbone.depth: 32 in the checkpoint, 56 now'),
    ('backbone.type', 'CifarResNet',
     "model.backbone.type: 'CifarResNetRepL' in the checkpoint, 'CifarResNet' now"),
])
def test_changed_model_refused_naming_the_key(key, value, shown):
    import copy
    changed = copy.deepcopy(MODEL)
    part, name = key.split('.')
    changed[part][name] = value
    with pytest.raises(ModelChangedError) as e:
        ModelFingerprintHook().after_load_checkpoint(_Runner(changed), _saved(MODEL))
    msg = str(e.value)
    assert '\n' not in msg and shown in msg
    assert '--work-dir' in msg and 'load_from' in msg


def test_unchanged_model_and_changeable_keys_pass():
    import copy
    same = copy.deepcopy(MODEL)
    same['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint='x.pth')
    ModelFingerprintHook().after_load_checkpoint(_Runner(same), _saved(MODEL))
    # load_from (fine-tuning) may change the model
    changed = copy.deepcopy(MODEL)
    changed['head']['num_classes'] = 12
    ModelFingerprintHook().after_load_checkpoint(_Runner(changed, resume=False), _saved(MODEL))


def test_changed_weights_with_the_same_config_name_the_tensor():
    saved = _saved(MODEL, module=torch.nn.Linear(2, 10))
    with pytest.raises(ModelChangedError, match=r"state_dict\['weight'\] shape: 10x2 in the "
                                                r'checkpoint, 12x2 now'):
        ModelFingerprintHook().after_load_checkpoint(
            _Runner(MODEL, module=torch.nn.Linear(2, 12)), saved)


def test_flatten():
    flat = flatten_model_config(MODEL)
    assert flat['model.backbone.interval'] == '3'
    assert not any('init_cfg' in k for k in flat)


# -- item 7: write errors during a save -------------------------------------------------------
def _save(path, fault=None, monkeypatch=None):
    from repl_mm.engine.fileio import atomic as safe_save
    from repl_mm.utils import atomic_write
    if fault is not None:
        def broken(f):
            raise fault
        monkeypatch.setattr(atomic_write, '_sync', broken)  # the one atomic write's fsync
    safe_save.atomic_save_checkpoint({'state_dict': {'w': torch.zeros(1024, 256)}}, str(path))


@pytest.mark.parametrize('fault,reason', [
    (OSError(errno.ENOSPC, 'No space left on device'), 'no space left on the device'),
    (RuntimeError('[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed '
                  'writing file data/0: file write failed'),
     'RuntimeError: [enforce fail at inline_container.cc:672]'),  # errno lost, space free
    (PermissionError(errno.EACCES, 'Permission denied'), 'permission denied'),
])
def test_write_error_one_line_and_earlier_checkpoints_kept(tmp_path, monkeypatch, fault,
                                                           reason, caplog):
    _save(tmp_path / 'epoch_1.pth')
    before = open(tmp_path / 'epoch_1.pth', 'rb').read()
    with pytest.raises(CheckpointWriteError) as e:
        _save(tmp_path / 'epoch_2.pth', fault, monkeypatch)
    msg = str(e.value.args[-1])
    assert '\n' not in msg and e.value.__cause__ is None
    assert msg.startswith(f'cannot save checkpoint {tmp_path / "epoch_2.pth"}: {reason}')
    assert 'MiB free there, about 1.0 MiB needed' in msg  # 1024 x 256 float32
    assert open(tmp_path / 'epoch_1.pth', 'rb').read() == before
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']  # no temporary file left


def test_directory_in_the_way(tmp_path):
    os.makedirs(tmp_path / 'epoch_2.pth')
    with pytest.raises(CheckpointWriteError, match='a directory is in the way'):
        _save(tmp_path / 'epoch_2.pth')
    assert os.listdir(tmp_path) == ['epoch_2.pth']


def test_write_error_recorded_in_the_log(tmp_path, monkeypatch):
    from mmengine.logging import MMLogger
    log = tmp_path / 'run.log'
    MMLogger.get_instance('cluster_save_error', log_file=str(log))
    with pytest.raises(CheckpointWriteError):
        _save(tmp_path / 'x.pth', OSError(errno.ENOSPC, 'No space left on device'),
              monkeypatch)
    for handler in MMLogger.get_current_instance().handlers:
        handler.flush()
    assert 'cannot save checkpoint' in open(log).read()


def test_full_tmpfs(tmp_path):
    """A real full file system where one can be mounted (root in a container), else skipped:
    the fault-injection tests above cover the same path."""
    mnt = tmp_path / 'small'
    os.makedirs(mnt)
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip('cannot mount a tmpfs here')
    try:
        with pytest.raises(CheckpointWriteError, match='no space left on the device'):
            _save(mnt / 'epoch_1.pth')
        assert os.listdir(mnt) == []
    finally:
        subprocess.run(['umount', str(mnt)])
