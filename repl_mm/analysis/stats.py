"""Statistics over seeds: mean ± sample standard deviation and Welch's t-test.

Accuracy claims of the evidence sections (docs/evidence.md) compare methods trained over a few
seeds; with 3-5 seeds per method the spread between seeds is often as large as the difference
between methods, so every comparison carries Welch's unequal-variance t statistic and its
two-sided p-value.
"""
import math
from typing import Dict, Sequence

__all__ = ['mean_std', 'welch_t']


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """``{'mean', 'std', 'n'}`` with the sample standard deviation (``ddof=1``; 0 for n=1).

    Raises:
        ValueError: ``values`` is empty.
    """
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError('mean_std: values is empty')
    n = len(vals)
    mean = sum(vals) / n
    var = sum((v - mean) ** 2 for v in vals) / (n - 1) if n > 1 else 0.0
    return dict(mean=mean, std=math.sqrt(var), n=n)


def welch_t(a: Sequence[float], b: Sequence[float]) -> Dict[str, float]:
    """Welch's t-test of ``mean(a) - mean(b)`` (unequal variances, two-sided).

    Args:
        a, b: per-seed values of two methods (at least 2 each).

    Returns:
        dict: ``t``, ``df`` (Welch-Satterthwaite), ``p`` (two-sided), ``diff`` (mean a - mean
        b). With both variances 0, ``t`` is ``±inf`` (``p`` 0) for different means and 0
        (``p`` 1) for equal ones.

    Raises:
        ValueError: fewer than 2 values in ``a`` or ``b``.
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f'welch_t needs at least 2 values per group, got {len(a)} and '
                         f'{len(b)}')
    sa, sb = mean_std(a), mean_std(b)
    diff = sa['mean'] - sb['mean']
    va, vb = sa['std'] ** 2 / sa['n'], sb['std'] ** 2 / sb['n']
    if va + vb == 0:
        same = diff == 0
        return dict(t=0.0 if same else math.copysign(math.inf, diff), df=float('nan'),
                    p=1.0 if same else 0.0, diff=diff)
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (sa['n'] - 1) + vb ** 2 / (sb['n'] - 1))
    from scipy import stats
    p = float(2 * stats.t.sf(abs(t), df))
    return dict(t=t, df=df, p=p, diff=diff)
