"""Training never loses work (issue 12), by fault injection on a tiny mmengine run
(tests/engine/tiny_run.py: 16 randomly augmented samples, 4 iterations per epoch):

* SIGKILL while a checkpoint is half written, ``max_keep_ckpts=1``: the previous checkpoint
  survives and resume ends with the weights of an uninterrupted run;
* a truncated newest checkpoint / a missing ``last_checkpoint``: resume from the newest file
  that loads; none loads: an error listing them, nothing trained over;
* a NaN loss: non-zero exit naming the iteration and the term, no NaN checkpoint, earlier ones
  kept;
* a crash mid-epoch with random augmentation, epoch- and iteration-based loops, a mid-epoch
  checkpoint: the resumed run equals the uninterrupted one (``torch.equal`` on every weight);
  without the saved random state it does not (the control).
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from repl_mm.engine import NoLoadableCheckpointError, safe_torch_load
from repl_mm.engine.runner.resume import find_resume_checkpoint

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
import tiny_run  # noqa: E402

EPOCHS = dict(max_epochs=3, val=True, save_best=True)


def _weights(path) -> dict:
    return safe_torch_load(str(path), 'cpu')['state_dict']


def _assert_equal_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _differs(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


_RUNS = iter(range(10 ** 6))


def _train(work_dir, name, **kwargs):
    # a unique experiment name per run: mmengine keys its MessageHub and logger by it
    runner = tiny_run.build_runner(str(work_dir), f'{name}_{next(_RUNS)}', **kwargs)
    runner.train()
    return runner


def _crash(work_dir, name, **kwargs):
    with pytest.raises(tiny_run.Crash):
        _train(work_dir, name, **kwargs)


def _subprocess(**kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, osp.join(HERE, 'tiny_run.py'), json.dumps(kwargs)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """The uninterrupted 3-epoch run (validation + save_best every epoch)."""
    work = tmp_path_factory.mktemp('reference')
    torch.set_num_threads(1)
    _train(work, 'reference', **EPOCHS)
    return {n: _weights(work / f'epoch_{n}.pth') for n in (1, 2, 3)}


def test_kill_during_save_keeps_previous_checkpoint_and_resume_matches(tmp_path, reference):
    work = tmp_path / 'work'
    proc = _subprocess(work_dir=str(work), name='killed', max_keep_ckpts=1,
                       kill_during_save_of='epoch_2.pth', **EPOCHS)
    assert proc.returncode == -9, proc.stderr[-3000:]
    names = sorted(os.listdir(work))
    # the killed save left a half-written temporary file, never a half-written epoch_2.pth
    assert 'epoch_2.pth' not in names and 'epoch_1.pth' in names
    tmp = [n for n in names if n.startswith('.epoch_2.pth.tmp-')]
    assert len(tmp) == 1 and (work / tmp[0]).stat().st_size > 0
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    _assert_equal_weights(_weights(work / 'epoch_1.pth'), reference[1])

    runner = _train(work, 'resumed', resume=True, max_keep_ckpts=1, **EPOCHS)
    assert runner.epoch == 3
    _assert_equal_weights(_weights(work / 'epoch_3.pth'), reference[3])
    assert _differs(reference[2], reference[3])  # epoch 3 changed the weights
    names = sorted(os.listdir(work))
    assert 'epoch_1.pth' not in names and 'epoch_2.pth' not in names  # max_keep_ckpts=1
    assert not [n for n in names if '.tmp-' in n]  # the stale temporary file is gone


def test_safe_checkpoint_hook_alone_is_crash_safe_with_mmengines_runner(tmp_path, reference):
    """SafeCheckpointHook in a config run by mmengine's own Runner (no runner_type): the
    checkpoint is written under a temporary name and renamed, rotation waits for it."""
    work = tmp_path / 'work'
    proc = _subprocess(work_dir=str(work), name='killed_plain', max_keep_ckpts=1,
                       kill_during_save_of='epoch_2.pth', runner='Runner',
                       ckpt_type='SafeCheckpointHook', **EPOCHS)
    assert proc.returncode == -9, proc.stderr[-3000:]
    names = sorted(os.listdir(work))
    assert 'epoch_2.pth' not in names and 'epoch_1.pth' in names
    assert len([n for n in names if n.startswith('.epoch_2.pth.tmp-')]) == 1
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    _assert_equal_weights(_weights(work / 'epoch_1.pth'), reference[1])


def test_kill_during_best_save_keeps_previous_best(tmp_path, reference):
    """save_best: mmengine deletes the previous best checkpoint before writing the new one."""
    work = tmp_path / 'work'
    proc = _subprocess(work_dir=str(work), name='killed_best', max_keep_ckpts=1,
                       kill_during_save_of='best_toy_score_epoch_2.pth', **EPOCHS)
    assert proc.returncode == -9, proc.stderr[-3000:]
    names = sorted(n for n in os.listdir(work) if n.endswith('.pth'))
    assert names == ['best_toy_score_epoch_1.pth', 'epoch_2.pth']
    _assert_equal_weights(_weights(work / 'best_toy_score_epoch_1.pth'), reference[1])
    _assert_equal_weights(_weights(work / 'epoch_2.pth'), reference[2])
    _train(work, 'resumed_best', resume=True, max_keep_ckpts=1, **EPOCHS)
    _assert_equal_weights(_weights(work / 'epoch_3.pth'), reference[3])
    names = sorted(n for n in os.listdir(work) if n.endswith('.pth'))
    assert names == ['best_toy_score_epoch_3.pth', 'epoch_3.pth']


def test_truncated_newest_checkpoint_resumes_from_previous(tmp_path, reference, caplog):
    work = tmp_path / 'work'
    _crash(work, 'cut', kill_at_iter=10, **EPOCHS)  # after epoch 2, in epoch 3
    newest = work / 'epoch_2.pth'
    data = newest.read_bytes()
    newest.write_bytes(data[:len(data) // 2])
    assert find_resume_checkpoint(str(work)) == str(work / 'epoch_1.pth')
    _train(work, 'resumed', resume=True, **EPOCHS)
    _assert_equal_weights(_weights(work / 'epoch_3.pth'), reference[3])


def test_missing_last_checkpoint_resumes_from_newest_file(tmp_path, reference):
    work = tmp_path / 'work'
    _crash(work, 'cut', kill_at_iter=10, **EPOCHS)
    (work / 'last_checkpoint').unlink()
    assert find_resume_checkpoint(str(work)) == str(work / 'epoch_2.pth')
    runner = _train(work, 'resumed', resume=True, **EPOCHS)
    assert runner.iter == 12
    _assert_equal_weights(_weights(work / 'epoch_3.pth'), reference[3])


def test_no_loadable_checkpoint_refuses_to_train_over_them(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_text('<!DOCTYPE html><html>404</html>')
    (work / 'epoch_2.pth').write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_3.pth'))
    with pytest.raises(NoLoadableCheckpointError) as err:
        _train(work, 'refused', resume=True, **EPOCHS)
    msg = str(err.value)
    assert f'{work / "epoch_3.pth"}: does not exist' in msg
    assert f'{work / "epoch_1.pth"}: does not load' in msg and 'HTML' in msg
    assert f'{work / "epoch_2.pth"}: does not load' in msg and 'empty' in msg
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == \
        ['epoch_1.pth', 'epoch_2.pth']
    assert (work / 'epoch_2.pth').read_bytes() == b''
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_3.pth')


def test_empty_work_dir_starts_from_scratch(tmp_path, monkeypatch):
    from repl_mm.engine.runner import resume
    logged = []
    monkeypatch.setattr(resume, 'print_log', lambda msg, **kw: logged.append(msg))
    assert find_resume_checkpoint(str(tmp_path)) is None
    assert logged == [f'No checkpoint in {tmp_path} to resume from: training starts from '
                      'scratch.']


def test_nan_loss_stops_with_error_and_keeps_good_checkpoints(tmp_path):
    work = tmp_path / 'work'
    # iteration 6 = the second of epoch 2; max_keep_ckpts=1 would rotate epoch_1 out on a save
    proc = _subprocess(work_dir=str(work), name='nan', max_keep_ckpts=1, nan_at_iter=6,
                       **EPOCHS)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('repl_mm.engine.hooks.non_finite_loss_hook.NonFiniteLossError: '
                           'Non-finite loss at iteration 6 (epoch 2): loss=nan, loss_cls=nan '
                           '(finite terms: loss_reg='), last
    assert f'last good checkpoint is kept: {work / "epoch_1.pth"}' in last
    assert "dict(type='NonFiniteLossHook', enabled=False)" in last
    names = sorted(n for n in os.listdir(work) if n.endswith('.pth'))
    assert names == ['best_toy_score_epoch_1.pth', 'epoch_1.pth']
    for name in names:
        assert all(torch.isfinite(v).all() for v in _weights(work / name).values())
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')


def test_nan_hook_can_be_turned_off(tmp_path):
    from mmengine.config import Config

    from repl_mm.engine.hooks import add_default_hooks
    cfg = Config(dict(custom_hooks=[dict(type='NonFiniteLossHook', enabled=False)]))
    assert add_default_hooks(cfg) == ['RNGStateHook']
    runner = tiny_run.build_runner(str(tmp_path / 'w'), f'nan_off_{next(_RUNS)}', max_epochs=1,
                                   nan_at_iter=2, default_hooks=False)
    runner.register_custom_hooks(list(cfg.custom_hooks))
    runner.train()  # trains on through the NaN
    assert not all(torch.isfinite(v).all() for v in _weights(tmp_path / 'w' / 'epoch_1.pth')
                   .values())


def test_crash_mid_epoch_resume_is_bit_exact(tmp_path, reference):
    work = tmp_path / 'work'
    _crash(work, 'cut', kill_at_iter=6, **EPOCHS)  # epoch 2, second iteration
    _train(work, 'resumed', resume=True, **EPOCHS)
    _assert_equal_weights(_weights(work / 'epoch_3.pth'), reference[3])

    # control: without the saved random state the resumed run differs
    ctl = tmp_path / 'control'
    _crash(ctl, 'cut_ctl', kill_at_iter=6, default_hooks=False, **EPOCHS)
    _train(ctl, 'resumed_ctl', resume=True, default_hooks=False, **EPOCHS)
    assert _differs(_weights(ctl / 'epoch_3.pth'), reference[3])


def test_mid_epoch_checkpoint_resume_is_bit_exact(tmp_path, reference):
    """An iteration-interval checkpoint inside an epoch-based loop: mmengine restarts the epoch
    from its first batch; RNGStateHook skips the trained batches."""
    mid = dict(max_epochs=3, interval=3, by_epoch_ckpt=False)
    full = tmp_path / 'full'
    _train(full, 'full', **mid)
    work = tmp_path / 'work'
    _crash(work, 'cut', kill_at_iter=8, **mid)  # last checkpoint: iter_6, batch 2 of epoch 2
    assert find_resume_checkpoint(str(work)) == str(work / 'iter_6.pth')
    runner = _train(work, 'resumed', resume=True, **mid)
    assert runner.iter == 12
    _assert_equal_weights(_weights(work / 'iter_12.pth'), _weights(full / 'iter_12.pth'))


@pytest.mark.parametrize('num_workers', [0, 2])
def test_iteration_based_resume_is_bit_exact(tmp_path, num_workers):
    its = dict(max_iters=10, interval=3, num_workers=num_workers)
    full = tmp_path / 'full'
    _train(full, 'full', **its)
    work = tmp_path / 'work'
    _crash(work, 'cut', kill_at_iter=8, **its)  # last checkpoint: iter_6
    runner = _train(work, 'resumed', resume=True, **its)
    assert runner.iter == 10
    _assert_equal_weights(_weights(work / 'iter_10.pth'), _weights(full / 'iter_10.pth'))
    if num_workers == 0:  # control (with workers the augmentation runs in the workers)
        ctl = tmp_path / 'control'
        _crash(ctl, 'cut_ctl', kill_at_iter=8, default_hooks=False, **its)
        _train(ctl, 'resumed_ctl', resume=True, default_hooks=False, **its)
        assert _differs(_weights(ctl / 'iter_10.pth'), _weights(full / 'iter_10.pth'))


@pytest.mark.parametrize('loop', ['epoch', 'iter'])
def test_resume_without_seed_continues_the_same_run(tmp_path, loop):
    """randomness.seed=None: every run draws its own seed, and mmengine builds the sampler with
    it before resuming. Resuming from a checkpoint of an uninterrupted run must still end with
    that run's weights (same data order, same augmentation)."""
    import shutil
    kw = dict(max_epochs=3, seed=None, num_workers=1) if loop == 'epoch' else \
        dict(max_iters=10, interval=3, seed=None, num_workers=1)
    first = 'epoch_1.pth' if loop == 'epoch' else 'iter_6.pth'
    last = 'epoch_3.pth' if loop == 'epoch' else 'iter_10.pth'
    full = tmp_path / 'full'
    _train(full, 'full', **kw)
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copy(full / first, work / first)
    _train(work, 'resumed', resume=True, **kw)
    _assert_equal_weights(_weights(work / last), _weights(full / last))
