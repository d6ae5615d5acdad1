"""Run the paper's benchmark table (Tables I, II, VIII, IX, XI, XII, XIV) and write it out.

Each row benchmarks a RepL config against its E2E twin (``repl_mm.analysis.run_benchmark``)
and is stored in a JSON (merged into an existing one, so rows can be run one at a time); the
markdown tables are written between the ``<!-- BEGIN GENERATED -->`` / ``<!-- END
GENERATED -->`` markers of the markdown file (the prose around them is kept).

    python tools/analysis_tools/benchmark_report.py           # every row, CPU (about 25 min)
    python tools/analysis_tools/benchmark_report.py --only resnet32 vit-small backends
    python tools/analysis_tools/benchmark_report.py --device cuda \\
        --json docs/benchmarks_cuda.json --batch-scale 16 --reps 20          # a GPU session
    python tools/analysis_tools/benchmark_report.py --render-only  # the markdown from JSON
"""
import argparse
import sys
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from ..analysis.benchmark_report import ROWS
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--only', nargs='+', metavar='KEY',
                   help=f'rows: {[r["key"] for r in ROWS]}, or backends (ResNet-34 inference '
                        'with channels_last and torch.compile)')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--json', default='docs/benchmarks.json')
    p.add_argument('--md', default='docs/benchmarks.md')
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    p.add_argument('--reps', type=int, help='override every row\'s repetitions')
    p.add_argument('--warmup', type=int, help='override every row\'s warm-up')
    p.add_argument('--batch-scale', type=int, default=1, help='multiply every batch (GPUs)')
    p.add_argument('--batch-size', type=int, help='override every row\'s batch')
    p.add_argument('--input-size', type=int, nargs='+', help='override every row\'s input')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='key=value overrides of both models of every row (python literals)')
    p.add_argument('--clock', choices=['auto', 'wall', 'cpu'], default='auto',
                   help='auto: process CPU time on CPU, wall time on CUDA')
    p.add_argument('--no-inference', action='store_true')
    p.add_argument('--render-only', action='store_true', help='only re-write the markdown')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Returns the report JSON's content (``rows``, ``backends``)."""
    args = parse_args(argv)
    from ..analysis.benchmark_report import run_report
    return run_report(args, log=lambda s: print(s, file=sys.stderr, flush=True))
