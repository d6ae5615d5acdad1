"""Issue 30 wiring (fast): what tools/train.py adds to a config, the hooks' arguments, the
loop's data plumbing."""
import pytest
import torch
from mmengine.config import Config

from repl_mm.engine.hooks import ModelFingerprintHook, PreemptionCheckpointHook
from repl_mm.engine.loops.resumable_loop import (
    _ResumableBatchSampler,
    _SeededDataset,
    seed_everything_from,
)
from repl_mm.engine.runner.cluster import CLUSTER_HOOKS, add_cluster_defaults


@pytest.mark.parametrize('train_cfg,want', [
    (dict(by_epoch=True, max_epochs=3), 'ResumableEpochBasedTrainLoop'),
    (dict(type='EpochBasedTrainLoop', max_epochs=3), 'ResumableEpochBasedTrainLoop'),
    (dict(type='IterBasedTrainLoop', max_iters=30), 'IterBasedTrainLoop'),
    (dict(by_epoch=False, max_iters=30), None),
])
def test_add_cluster_defaults(train_cfg, want):
    cfg = Config(dict(train_cfg=train_cfg, custom_hooks=[
        dict(type='ModelFingerprintHook', enabled=False)]))
    added = add_cluster_defaults(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == ['ModelFingerprintHook',
                                                     'PreemptionCheckpointHook']
    assert added[0] == 'PreemptionCheckpointHook'
    assert cfg.train_cfg.get('type') == want
    if want == 'ResumableEpochBasedTrainLoop':
        assert 'by_epoch' not in cfg.train_cfg and cfg.train_cfg.max_epochs == 3
    assert add_cluster_defaults(cfg) == []  # idempotent


def test_exact_resume_opt_out():
    cfg = Config(dict(train_cfg=dict(by_epoch=True, max_epochs=3), exact_resume=False))
    assert add_cluster_defaults(cfg) == CLUSTER_HOOKS
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=3)


@pytest.mark.parametrize('kwargs,match', [
    (dict(signals=['SIGKILL']), r"signals must be names among \['SIGTERM', 'SIGUSR1'"),
    (dict(exit_code=300), 'exit_code must be None or an int in 0..255, got 300'),
    (dict(check_interval=0), 'check_interval must be an int >= 1, got 0'),
    (dict(filename_tmpl='last.pth'), "filename_tmpl must contain '{}'"),
])
def test_preemption_hook_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PreemptionCheckpointHook(**kwargs)


def test_preemption_hook_signal_names():
    import signal
    hook = PreemptionCheckpointHook(signals=('usr2', 'SIGTERM'))
    assert hook.signals == [signal.SIGUSR2, signal.SIGTERM]


def test_checkpoint_without_fingerprint_warns_and_resumes(caplog):
    class R:
        cfg = Config(dict(model=dict(type='X')))
        _resume = True
        model = torch.nn.Linear(1, 1)
    ModelFingerprintHook().after_load_checkpoint(R(), {'state_dict': {}})  # no raise


def test_sampler_skips_without_loading_and_keys_positions():
    loaded = []

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, i):
            loaded.append(i)
            return torch.rand(1).item()

    sampler = torch.utils.data.BatchSampler(range(12), 4, False)
    wrapped = _ResumableBatchSampler(sampler)
    wrapped.skip, wrapped.key = 2, (7, 3, 0)
    batches = list(wrapped)
    assert batches == [[(8, (7, 3, 0, 2, 0)), (9, (7, 3, 0, 2, 1)), (10, (7, 3, 0, 2, 2)),
                        (11, (7, 3, 0, 2, 3))]]
    assert len(list(wrapped)) == 3  # the skip applies once
    data = _SeededDataset(Data())
    a = data[(5, (7, 3, 0, 1, 1))]
    torch.rand(10)
    b = data[(5, (7, 3, 0, 1, 1))]
    c = data[(5, (7, 4, 0, 1, 1))]
    assert a == b != c and loaded == [5, 5, 5]
    seed_everything_from(1, 2)
    x = torch.rand(3)
    seed_everything_from(1, 2)
    assert torch.equal(x, torch.rand(3))


# -- tools/train.py itself (a subprocess; the toy model stands in for a toolbox config) --------
def _train_py(work, num_classes, epochs, *args):
    import os.path as osp
    import subprocess
    import sys

    from cluster_helpers import env
    stub = osp.join(osp.dirname(osp.abspath(__file__)), 'train_stub.py')
    return subprocess.run([sys.executable, stub, str(num_classes), str(epochs), '--work-dir',
                           str(work), *args], env=env(), capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_train_py_busy_work_dir_and_changed_model(tmp_path):
    """tools/train.py: the cluster defaults reach the runner; a busy work dir is refused in
    one line before anything is built; --resume with another num_classes is refused in one
    line naming it (exit 1, no new checkpoint); the same model resumes (exit 0)."""
    import json
    import os
    import socket
    import subprocess
    import sys
    work = tmp_path / 'w'
    r = _train_py(work, 4, 1)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / 'built.txt').read_text().splitlines() == [
        "ResumableEpochBasedTrainLoop ['PreemptionCheckpointHook', 'ModelFingerprintHook']"]
    assert not (work / '.repl_mm.lock').exists()  # released at the end
    holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        (work / '.repl_mm.lock').write_text(json.dumps(
            dict(host=socket.gethostname(), pid=holder.pid, start=None, time='now')))
        r = _train_py(work, 4, 2, '--resume')
        assert r.returncode == 1
        assert r.stderr.strip().splitlines() == [
            f'tools/train.py: work dir {work} is in use by the run of {socket.gethostname()} '
            f'PID {holder.pid} (since now): wait for it to end, or pass another --work-dir; if '
            f'that run is gone, delete {work / ".repl_mm.lock"}']
        assert len((work / 'built.txt').read_text().splitlines()) == 1  # nothing built
    finally:
        holder.kill()
        holder.wait()
    os.unlink(work / '.repl_mm.lock')
    r = _train_py(work, 6, 2, '--resume')
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith('tools/train.py: cannot resume: the model differs from the '
                           "checkpoint's: model.num_classes: 4 in the checkpoint, 6 now")
    assert 'Traceback' not in r.stderr and not (work / 'epoch_2.pth').exists()
    r = _train_py(work, 4, 2, '--resume')
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / 'epoch_2.pth').exists()
