"""Draw what RepL saves, in the spirit of the paper's Figure 1, from a benchmark report JSON.

Three panels (trainable parameters, activation memory of a training step, training step
time), one group of bars per model: the reduction ``1 - RepL/E2E`` in percent as measured
(the step time with its 95 % bootstrap interval as a whisker; parameters and activation bytes
are exact counts), as predicted by the analytic model of the same plan (eq. 42, 58 and the
block-time model) and as claimed by the paper (Tables I, II, VIII, XIV).

    python tools/analysis_tools/plot_savings.py docs/benchmarks.json \\
        --out docs/benchmark_savings.png
"""
import argparse
import json
from typing import Any, Dict, List, Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('json', nargs='?', default='docs/benchmarks.json')
    p.add_argument('--out', default='docs/benchmark_savings.png')
    p.add_argument('--dpi', type=int, default=120)
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    from ..analysis.plot_savings import collect, plot
    args = parse_args(argv)
    with open(args.json) as f:
        data = json.load(f)
    rows = collect(data)
    plot(rows, args.out, args.dpi)
    print(f'wrote {args.out} ({len(rows)} models)')
    return rows
