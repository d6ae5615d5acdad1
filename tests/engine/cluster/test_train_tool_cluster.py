"""Issue 30 items 5-6 and issue 23 item 7 through ``tools/train.py`` and ``tools/dist_train.sh``
(real subprocesses) on a tiny ImageNet-format ResNet-34-RepL (tests/e2e's tiny set, random
crop and flip, shuffling)."""
import os
import os.path as osp
import re
import subprocess
import sys
import time

import pytest
from cluster_helpers import ROOT, differing, env, free_port
from test_launcher_signals import _run_of

pytest.importorskip('mmpretrain')
pytestmark = pytest.mark.slow

sys.path.insert(0, osp.join(ROOT, 'tests', 'e2e'))
from test_classification_e2e import make_tiny_imagenet, tiny_imagenet_cfg  # noqa: E402

TRAIN = osp.join(ROOT, 'tools', 'train.py')


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tiny')
    data_root = str(tmp / 'imagenet')
    make_tiny_imagenet(data_root)
    cfg = tiny_imagenet_cfg('resnet34_repl_imagenet', data_root, str(tmp / 'unused'))
    cfg.train_cfg.max_epochs = 4
    cfg.train_cfg.val_interval = 10
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.num_workers = 2
    cfg.train_dataloader.persistent_workers = True
    cfg.default_hooks.checkpoint.save_optimizer = True
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    cfg.param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[2, 3])
    path = str(tmp / 'tiny_r34.py')
    cfg.dump(path)
    return path


def _train(config, work, *args, **popen):
    popen.setdefault('env', env())
    return subprocess.Popen(['nice', sys.executable, TRAIN, config, '--work-dir', str(work),
                             *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_busy_work_dir_refused_before_building(config, tmp_path):
    work = tmp_path / 'w'
    first = _train(config, work, '--cfg-options', 'train_cfg.max_epochs=200')
    try:
        end = time.time() + 120
        while not (work / '.repl_mm.lock').exists():
            assert time.time() < end and first.poll() is None, first.communicate()
            time.sleep(0.5)
        second = _train(config, work, '--cfg-options', 'randomness.seed=1')
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1
        assert 'Traceback' not in err
        assert err.strip().splitlines()[-1].startswith(
            f'tools/train.py: work dir {work} is in use by the run of {os.uname().nodename} '
            f'PID {first.pid} (since ')
        assert '--work-dir' in err
        assert 'Load checkpoint' not in out + err and 'Epoch(train)' not in out + err
        assert first.poll() is None  # the first run trains on, its lock untouched
        assert f'"pid": {first.pid}' in (work / '.repl_mm.lock').read_text()
    finally:
        first.kill()
        first.communicate()


@pytest.mark.parametrize('option,shown', [
    ('model.head.num_classes=12', 'model.head.num_classes: 1000 in the checkpoint, 12 now'),
    ('model.backbone.interval=2', 'model.backbone.interval: 4 in the checkpoint, 2 now'),
])
def test_resume_with_changed_model_refused(config, tmp_path, option, shown):
    work = tmp_path / 'w'
    proc = _train(config, work, '--cfg-options', 'train_cfg.max_epochs=1')
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    if option.startswith('model.head.num_classes'):
        # the data check (issue 29) refuses it first: the data has 1000 classes
        proc = _train(config, work, '--resume', '--cfg-options', 'train_cfg.max_epochs=2',
                      option)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1 and 'fix: --cfg-options model.head.num_classes=1000' in err
    # the resume check itself, behind the data check
    proc = _train(config, work, '--resume', '--cfg-options', 'train_cfg.max_epochs=2',
                  option, env=env(REPL_MM_SKIP_DATA_CHECK='1'))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith('tools/train.py: cannot resume: the model differs') and shown in last
    assert not (work / 'epoch_2.pth').exists()
    # schedule and data may change
    proc = _train(config, work, '--resume', '--cfg-options', 'train_cfg.max_epochs=2',
                  'train_dataloader.batch_size=3')
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]


def _dist_train(config, work, *args):
    e = env(PYTHON=sys.executable, PORT=free_port(), REPL_MM_ALLOW_CPU_DIST='1',
            PYTHONUNBUFFERED='1')
    return subprocess.Popen(['nice', 'bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config,
                             '2', '--work-dir', str(work), *args], cwd=ROOT, env=e,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_two_process_runs_exit_0_and_kill9_resume_is_exact(config, tmp_path):
    """Issue 23 item 7: finished 2-process runs exit 0 (no 'terminate called without an
    active exception'); ``kill -9`` of the whole run in epoch 3 and ``--resume`` end with every
    tensor equal to the uninterrupted run (persistent loader workers, random crop / flip)."""
    ref = tmp_path / 'ref'
    proc = _dist_train(config, ref)
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out[-3000:]
    assert 'terminate called' not in out
    work = tmp_path / 'run'
    proc = _dist_train(config, work)
    for line in proc.stdout:
        if re.search(r'Epoch\(train\) +\[3\]\[1/', line):
            break
    # the whole run: the launcher, torchrun (a session of its own), the workers, their
    # loader workers
    victims = [proc.pid] + _run_of(str(work))
    for pid in victims:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    proc.communicate()
    assert (work / 'epoch_2.pth').exists() and not (work / 'epoch_4.pth').exists()
    # the killed run's lock (same host, process gone) is taken over with a warning
    proc = _dist_train(config, work, '--resume')
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out[-3000:]
    assert 'taking over the lock' in out and 'terminate called' not in out
    assert differing(str(ref / 'epoch_4.pth'), str(work / 'epoch_4.pth')) == []
