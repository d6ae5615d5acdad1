"""Timing of training steps and inference (paper §IV-B Tables I-II, §IV-D1e Tables XI-XII),
robust to a shared machine.

* :func:`interleaved_times`: wall-clock (or process CPU time) medians of several callables
  measured in one run, interleaved in ABBA order so that the drift of a shared machine hits
  all of them alike;
* :func:`paired_ratio` / :func:`paired_ratios` / :func:`bootstrap_ci`: ratios of two
  interleaved timings, repetition by repetition, and the 95 % interval of their median;
* :func:`cuda_peak_memory`: ``torch.cuda.max_memory_allocated`` above the baseline;
* :func:`machine_info`: what the numbers were measured on.
"""
import os
import platform
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

import torch

__all__ = ['synchronize', 'Timing', 'CLOCKS', 'resolve_clock', 'interleaved_times',
           'paired_ratio', 'paired_ratios', 'bootstrap_ci', 'cuda_peak_memory', 'machine_info']


def synchronize(device) -> None:
    """Waits for the device's queued work (CUDA); a no-op on CPU."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    """Wall-clock seconds of repeated calls: ``median`` and the quartiles ``q1``, ``q3``."""
    median: float
    q1: float
    q3: float
    samples: List[float]

    @classmethod
    def of(cls, samples: Sequence[float]) -> 'Timing':
        s = sorted(samples)
        if len(s) >= 4:
            q1, _, q3 = statistics.quantiles(s, n=4)
        else:
            q1, q3 = s[0], s[-1]
        return cls(statistics.median(s), q1, q3, list(samples))


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def resolve_clock(clock: str, device) -> str:
    """``'auto'`` -> ``'cpu'`` (process CPU time) on a CPU device, ``'wall'`` otherwise.

    Process CPU time counts the work of all the process's threads and not the time it waits
    for a core, so on a shared machine it is far less noisy than wall time; for a GPU only
    wall time (with synchronisation) measures the device.
    """
    if clock == 'auto':
        return 'cpu' if torch.device(device).type == 'cpu' else 'wall'
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of ('auto', 'wall', 'cpu'), got {clock!r}")
    if clock == 'cpu' and torch.device(device).type != 'cpu':
        raise ValueError(f"clock='cpu' cannot time work on {device}: use 'wall'")
    return clock


def interleaved_times(fns: Mapping[str, Callable[[], Any]], reps: int = 10, warmup: int = 2,
                      device='cpu', clock: str = 'wall') -> Dict[str, Timing]:
    """Times several callables in one run, interleaved.

    Each repetition calls every function once; odd repetitions run them in reverse order
    (ABBA), so a slow phase of a shared machine lands on all of them alike. The first
    ``warmup`` repetitions are not recorded.

    Args:
        fns: name -> zero-argument callable.
        reps (int): recorded repetitions (>= 1).
        warmup (int): unrecorded repetitions first (>= 0).
        device: device whose queue is synchronized around every call.
        clock (str): ``'wall'`` (``time.perf_counter``), ``'cpu'`` (``time.process_time``)
            or ``'auto'`` (:func:`resolve_clock`).

    Returns:
        dict: name -> :class:`Timing` (seconds).
    """
    if not isinstance(reps, int) or reps < 1:
        raise ValueError(f'reps must be an int >= 1, got {reps!r}')
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f'warmup must be an int >= 0, got {warmup!r}')
    now = CLOCKS[resolve_clock(clock, device)]
    names = list(fns)
    samples: Dict[str, List[float]] = {n: [] for n in names}
    for i in range(warmup + reps):
        for name in (names if i % 2 == 0 else names[::-1]):
            synchronize(device)
            t0 = now()
            fns[name]()
            synchronize(device)
            if i >= warmup:
                samples[name].append(now() - t0)
    return {n: Timing.of(s) for n, s in samples.items()}


def paired_ratio(a: Timing, b: Timing) -> float:
    """Median over repetitions of ``a_i / b_i``: the ratio of two interleaved timings, each
    sample compared with its neighbour in time (robust to a machine that slows down and
    speeds up between repetitions)."""
    return statistics.median(paired_ratios(a, b))


def paired_ratios(a: Timing, b: Timing) -> List[float]:
    """``a_i / b_i`` for every repetition of one interleaved run."""
    if len(a.samples) != len(b.samples):
        raise ValueError('paired ratios need timings of the same interleaved run')
    return [x / y for x, y in zip(a.samples, b.samples)]


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> Tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median of ``values``."""
    if not values:
        raise ValueError('bootstrap_ci needs at least one value')
    rng = random.Random(seed)
    n = len(values)
    meds = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    lo = meds[int((1 - level) / 2 * (resamples - 1))]
    hi = meds[int((1 + level) / 2 * (resamples - 1))]
    return lo, hi


def cuda_peak_memory(fn: Callable[[], Any], device='cuda') -> int:
    """Peak bytes allocated on a CUDA device while ``fn()`` runs, above what was allocated
    before it (``torch.cuda.max_memory_allocated``)."""
    device = torch.device(device)
    if device.type != 'cuda':
        raise ValueError(f'cuda_peak_memory needs a CUDA device, got {device}')
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    out = fn()
    del out
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def machine_info(device='cpu') -> Dict[str, Any]:
    """CPU model (``/proc/cpuinfo``), thread count, torch version and the accelerator."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(cpu=cpu, cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
                torch=torch.__version__, python=platform.python_version(),
                device=str(device))
    if torch.device(device).type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
    return info
