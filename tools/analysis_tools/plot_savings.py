"""Draw what RepL saves, in the spirit of the paper's Figure 1, from a benchmark report JSON.

Three panels (trainable parameters, activation memory of a training step, training step
time), one group per model: E2E at 100 %, the measured RepL bar, the analytic prediction of
the same plan (eq. 42, 58, block-time model) and the paper's claim (Tables I, II, VIII, XIV).

    python tools/analysis_tools/plot_savings.py docs/benchmarks.json \\
        --out docs/benchmark_savings.png
"""
import argparse
import json
import os
import sys

# the repository root (two levels up), so that the tool runs from a checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('json', nargs='?', default='docs/benchmarks.json')
    p.add_argument('--out', default='docs/benchmark_savings.png')
    p.add_argument('--dpi', type=int, default=120)
    return p.parse_args(argv)


def collect(data):
    """Per row: label, measured and predicted RepL/E2E ratios (params, activation, time) and
    the paper's claimed ratios (memory, time)."""
    from tools.analysis_tools.benchmark_report import ROWS
    rows = []
    for row in ROWS:
        r = data['rows'].get(row['key'])
        if not r or not r.get('scopes'):
            continue
        scope = 'model' if 'model' in r['scopes'] else 'backbone'
        pred = r['scopes'][scope]['predictions']['repl']
        paper = row.get('paper') or {}
        rows.append(dict(
            label=row['label'].split(',')[0] + ('*' if row.get('cfg_options') else ''),
            measured=[pred['measured_ratios'][k] for k in ('trainable_params', 'activation',
                                                          'step_time')],
            predicted=[pred['ratios'][k] for k in ('trainable_params', 'activation', 'time')],
            paper=[None, 1 - paper['memory'] / 100 if 'memory' in paper else None,
                   1 - paper['time'] / 100 if 'time' in paper else None]))
    return rows


def plot(rows, out: str, dpi: int = 120) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if not rows:
        raise ValueError('the JSON holds no benchmarked rows')
    titles = ('trainable parameters', 'activation memory (training step)',
              'training step time')
    fig, axes = plt.subplots(3, 1, figsize=(max(8, 0.9 * len(rows) + 3), 10), sharex=True)
    xs = list(range(len(rows)))
    w = 0.38
    for i, (ax, title) in enumerate(zip(axes, titles)):
        ax.bar([x - w / 2 for x in xs], [100] * len(rows), w, color='#b0b0b0', label='E2E')
        meas = [100 * (r['measured'][i] or 0) for r in rows]
        ax.bar([x + w / 2 for x in xs], meas, w, color='#2a7ab9', label='RepL (measured)')
        pred = [(x + w / 2, 100 * r['predicted'][i]) for x, r in zip(xs, rows)
                if r['predicted'][i] is not None]
        if pred:
            ax.scatter(*zip(*pred), marker='_', s=400, color='black', zorder=3,
                       label='RepL (analytic, same plan)')
        paper = [(x + w / 2, 100 * r['paper'][i]) for x, r in zip(xs, rows)
                 if r['paper'][i] is not None]
        if paper:
            ax.scatter(*zip(*paper), marker='o', color='#d62728', zorder=4,
                       label='RepL (paper\'s claim)')
        for x, m in zip(xs, meas):
            ax.text(x + w / 2, m + 1, f'{m:.0f}', ha='center', va='bottom', fontsize=7)
        ax.set_ylim(0, 118)
        ax.set_ylabel('% of E2E')
        ax.set_title(title, fontsize=10)
        ax.grid(axis='y', alpha=0.3)
    handles = {}
    for ax in axes:  # one legend with every kind of mark (the first panel has no claim)
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc='upper center', fontsize=8,
               ncol=4, bbox_to_anchor=(0.5, 0.955))
    axes[-1].set_xticks(xs)
    axes[-1].set_xticklabels([r['label'] for r in rows], rotation=30, ha='right')
    fig.suptitle('RepL vs E2E: measured, analytic limit of the same plan, and the paper\'s '
                 'claims (* explicit replace_blocks plan)', fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    with open(args.json) as f:
        data = json.load(f)
    rows = collect(data)
    plot(rows, args.out, args.dpi)
    print(f'wrote {args.out} ({len(rows)} models)')
    return rows


if __name__ == '__main__':
    main()
