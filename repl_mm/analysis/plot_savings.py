"""What RepL saves, drawn in the spirit of the paper's Figure 1 from a benchmark report JSON
(:mod:`.benchmark_report`): per model the reduction ``1 - RepL/E2E`` in percent as measured
(step time with its 95 % bootstrap interval), as the analytic model of the same plan predicts
(eq. 42, 58, the block-time model) and as the paper claims (Tables I, II, VIII, XIV).
``tools/analysis_tools/plot_savings.py`` is the command line (:mod:`repl_mm.cli.plot_savings`).
"""
import os
from typing import Any, Dict, List, Optional, Sequence

__all__ = ['PANELS', 'collect', 'plot']

#: The panels: title, the measured ratio key, the analytic ratio key, the paper's claim key.
PANELS = (('trainable parameters', 'trainable_params', 'trainable_params', None),
          ('activation memory (training step)', 'activation', 'activation', 'memory'),
          ('training step time', 'step_time', 'time', 'time'))


def _reduction(ratio: Optional[float]) -> Optional[float]:
    """``1 - RepL/E2E`` in percent."""
    return None if ratio is None else 100 * (1 - ratio)


def collect(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Per benchmarked row: label, and per panel the measured, analytic and paper reductions
    (percent, None where missing) and the measured 95 % interval (step time only).

    Args:
        data (dict): a ``tools/analysis_tools/benchmark_report.py`` JSON.
    """
    from .benchmark_report import ROWS
    rows = []
    for row in ROWS:
        r = data['rows'].get(row['key'])
        if not r or not r.get('scopes'):
            continue
        scope = 'model' if 'model' in r['scopes'] else 'backbone'
        pred = r['scopes'][scope]['predictions']['repl']
        ci = r['scopes'][scope]['variants']['repl'].get('step_time_ratio_ci')
        paper = row.get('paper') or {}
        rows.append(dict(
            label=row['label'].split(',')[0] + ('*' if row.get('cfg_options') else ''),
            measured=[_reduction(pred['measured_ratios'].get(m)) for _, m, _, _ in PANELS],
            predicted=[_reduction(pred['ratios'].get(a)) for _, _, a, _ in PANELS],
            paper=[paper.get(c) if c else None for _, _, _, c in PANELS],
            # a ratio interval (lo, hi) is the reduction interval (1 - hi, 1 - lo)
            measured_ci=[None, None, None if not ci else sorted(_reduction(v) for v in ci)]))
    return rows


def _bars(ax, xs: Sequence[float], values: Sequence[Optional[float]], width: float, **kw):
    pts = [(x, v) for x, v in zip(xs, values) if v is not None]
    if pts:
        ax.bar(*zip(*pts), width, **kw)


def plot(rows: List[Dict[str, Any]], out: str, dpi: int = 120) -> None:
    """Writes the three-panel figure of :func:`collect`'s rows to ``out`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if not rows:
        raise ValueError('the JSON holds no benchmarked rows')
    fig, axes = plt.subplots(3, 1, figsize=(max(9, 0.95 * len(rows) + 3), 11), sharex=True)
    xs = list(range(len(rows)))
    w = 0.27
    for i, (ax, (title, _, _, _)) in enumerate(zip(axes, PANELS)):
        meas = [r['measured'][i] for r in rows]
        _bars(ax, [x - w for x in xs], meas, w, color='#2a7ab9', label='measured')
        cis = [(x - w, m, r['measured_ci'][i]) for x, m, r in zip(xs, meas, rows)
               if m is not None and r['measured_ci'][i]]
        if cis:
            ax.errorbar([c[0] for c in cis], [c[1] for c in cis],
                        yerr=[[c[1] - c[2][0] for c in cis], [c[2][1] - c[1] for c in cis]],
                        fmt='none', ecolor='black', elinewidth=1, capsize=3, zorder=3,
                        label='measured 95% interval (bootstrap of the paired step-time ratio)')
        _bars(ax, xs, [r['predicted'][i] for r in rows], w, color='#9e9e9e',
              label='analytic, same plan (eq. 42, 58, block-time model)')
        _bars(ax, [x + w for x in xs], [r['paper'][i] for r in rows], w, color='#d62728',
              label="paper's claim")
        for x, m, r in zip(xs, meas, rows):  # the measured value, beyond its whisker
            if m is None:
                continue
            lo, hi = r['measured_ci'][i] or (m, m)
            ax.text(x - w, (max(m, hi) + 0.4) if m >= 0 else (min(m, lo) - 0.4), f'{m:.1f}',
                    ha='center', va='bottom' if m >= 0 else 'top', fontsize=7)
        ax.axhline(0, color='black', linewidth=0.8)
        ax.set_ylabel('reduction, 1 - RepL/E2E (%)')
        ax.set_title(title, fontsize=10)
        ax.grid(axis='y', alpha=0.3)
        lo, hi = ax.get_ylim()  # room for the value labels beyond the whiskers
        lo = min(lo, -2)
        ax.set_ylim(lo - (0.08 * (hi - lo) if lo < -2 else 0), hi + 0.08 * (hi - lo))
    handles = {}
    for ax in axes:  # one legend with every kind of mark (the first panel has no claim)
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc='upper center', fontsize=8,
               ncol=2, bbox_to_anchor=(0.5, 0.96))
    axes[-1].set_xticks(xs)
    axes[-1].set_xticklabels([r['label'] for r in rows], rotation=30, ha='right')
    fig.suptitle('What RepL saves (1 - RepL/E2E): measured, analytic for the same plan, and the '
                 "paper's claims (* explicit replace_blocks plan)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
