"""repl_mm.analysis.timing: interleaved timer, paired ratios, bootstrap interval, clocks and
CUDA peak memory."""
import pytest

from repl_mm.analysis import timing


def test_interleaved_times_abba_order_and_warmup():
    calls = []
    fns = {k: (lambda k=k: calls.append(k)) for k in 'ab'}
    times = timing.interleaved_times(fns, reps=3, warmup=1)
    assert calls == ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']
    assert [len(times[k].samples) for k in 'ab'] == [3, 3]
    assert times['a'].q1 <= times['a'].median <= times['a'].q3
    with pytest.raises(ValueError, match='reps'):
        timing.interleaved_times(fns, reps=0)
    with pytest.raises(ValueError, match='warmup'):
        timing.interleaved_times(fns, warmup=-1)


def test_paired_ratio():
    a = timing.Timing.of([2.0, 4.0, 6.0])
    b = timing.Timing.of([1.0, 2.0, 2.0])
    assert timing.paired_ratio(a, b) == 2.0
    with pytest.raises(ValueError):
        timing.paired_ratio(a, timing.Timing.of([1.0]))


def test_cuda_peak_memory_needs_cuda():
    with pytest.raises(ValueError, match='CUDA'):
        timing.cuda_peak_memory(lambda: None, 'cpu')


def test_bootstrap_ci_and_clock():
    assert timing.bootstrap_ci([1.0] * 5) == (1.0, 1.0)
    values = [0.9, 1.0, 1.1, 0.95, 1.05, 1.2, 0.8]
    lo, hi = timing.bootstrap_ci(values)
    assert lo <= 1.0 <= hi and lo >= 0.8 and hi <= 1.2
    assert timing.resolve_clock('auto', 'cpu') == 'cpu'
    assert timing.resolve_clock('auto', 'cuda') == 'wall'
    with pytest.raises(ValueError, match='clock'):
        timing.resolve_clock('sundial', 'cpu')
    with pytest.raises(ValueError, match="use 'wall'"):
        timing.resolve_clock('cpu', 'cuda')
    assert timing.paired_ratios(timing.Timing.of([2.0, 3.0]),
                                timing.Timing.of([1.0, 3.0])) == [2.0, 1.0]
