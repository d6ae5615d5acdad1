"""Issue 30 items 1, 2 and issue 23 item 7b: real signals to real subprocesses, then a resume
that must end with every tensor (weights, optimizer state) equal to an uninterrupted run.

A tiny run: 3 epochs of 4 iterations per process, random flip / crop / noise from Python, numpy
and torch in the loader, dropout in the model, shuffling, a MultiStepLR milestone.
"""
import os
import os.path as osp
import re
import signal

import pytest
from cluster_helpers import differing, finish, launch, run, wait_for_line

pytestmark = pytest.mark.slow

BASE = dict(epochs=3, num_workers=2, persistent_workers=True)


def _reference(tmp_path, world, **kw):
    ref = str(tmp_path / 'ref')
    run(dict(BASE, work_dir=ref, **kw), world)
    return osp.join(ref, 'epoch_3.pth')


@pytest.mark.parametrize('world', [1, 2])
def test_sigterm_mid_epoch_saves_and_resume_is_exact(tmp_path, world):
    """SIGTERM to one process (rank 1 of 2: a signal to one rank stops all) at iteration 6 of
    12 (mid epoch 2): one checkpoint at that iteration, last_checkpoint points at it, one
    line, exit 143 on every rank; the resume skips the 2 trained batches of epoch 2 and ends
    with every tensor equal to the uninterrupted run (persistent loader workers)."""
    ref = _reference(tmp_path, world)
    work = str(tmp_path / 'run')
    procs = launch(dict(BASE, work_dir=work, sleep=0.5), world)
    wait_for_line(procs[0], 'ITER 6')
    procs[-1].send_signal(signal.SIGTERM)
    codes, out = finish(procs)
    assert codes == [143] * world, out[-3000:]
    found = re.findall(r'preempted at epoch (\d+) iteration (\d+): saved (\S+); resume with '
                       r'--resume', out)
    assert len(found) == 1, out[-3000:]
    epoch, iters, path = int(found[0][0]), int(found[0][1]), found[0][2]
    assert epoch == 1 and iters in (6, 7), found  # at most the iteration in flight
    assert path == osp.join(work, f'iter_{iters}.pth') and osp.isfile(path)
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == path
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    out = run(dict(BASE, work_dir=work, resume=True), world)
    assert f'the sampler skips the {iters - 4} batches already trained' in out
    assert differing(ref, osp.join(work, 'epoch_3.pth')) == []


@pytest.mark.parametrize('loop,world', [('resumable', 2), ('default', 1)])
def test_kill9_resume_with_persistent_workers(tmp_path, loop, world):
    """``kill -9`` in epoch 3 (every process), resume from epoch_2.pth: with the resumable
    loop every tensor equals the uninterrupted run's. mmengine's own loop (with RNGStateHook)
    is the control: its persistent workers restart their random streams, and tensors differ
    (what issue 30 reported)."""
    ref = _reference(tmp_path, world, loop=loop)
    work = str(tmp_path / 'run')
    procs = launch(dict(BASE, work_dir=work, sleep=0.5, loop=loop), world)
    wait_for_line(procs[0], 'ITER 10')
    for p in procs:
        p.send_signal(signal.SIGKILL)
    codes, _ = finish(procs)
    assert codes == [-9] * world
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    assert not osp.exists(osp.join(work, 'epoch_3.pth'))
    run(dict(BASE, work_dir=work, resume=True, loop=loop), world)
    diff = differing(ref, osp.join(work, 'epoch_3.pth'))
    if loop == 'resumable':
        assert diff == []
    else:
        assert len(diff) > 0


def test_second_signal_during_save_keeps_checkpoints(tmp_path):
    """Three SIGTERMs in a row: the handler only records them, one checkpoint is written,
    exit 143."""
    work = str(tmp_path / 'run')
    procs = launch(dict(BASE, work_dir=work, sleep=0.5, num_workers=0,
                        persistent_workers=False))
    wait_for_line(procs[0], 'ITER 3')
    for _ in range(3):
        procs[0].send_signal(signal.SIGTERM)
    codes, out = finish(procs)
    assert codes == [143], out[-3000:]
    assert len(re.findall('preempted at epoch', out)) == 1
    saved = sorted(f for f in os.listdir(work) if f.endswith('.pth'))
    assert len(saved) == 1 and saved[0].startswith('iter_'), saved
    assert not [f for f in os.listdir(work) if '.tmp-' in f]
