"""``tools/analysis_tools/benchmark_cuda.py``: the paper's memory / time rows, E2E vs RepL, on
one CUDA device, written to ``docs/benchmarks_cuda.md`` (:mod:`repl_mm.analysis.cuda_rows`)."""
import argparse
import json
import sys
import time
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from repl_mm.analysis.cuda_rows import ROWS
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rows', nargs='+', choices=[r['key'] for r in ROWS],
                   help='rows to measure (default: all)')
    p.add_argument('--device', default='cuda', help="'cuda' (default), 'cuda:1' or 'cpu'")
    p.add_argument('--reps', type=int, default=10, help='timed steps per model')
    p.add_argument('--warmup', type=int, default=3, help='untimed steps per model')
    p.add_argument('--batch', type=int, help="one batch for every row (default: the paper's)")
    p.add_argument('--out', default='docs/benchmarks_cuda.md', help='markdown to write')
    p.add_argument('--json', help='also write the raw results here')
    args = p.parse_args(argv)
    for name in ('reps', 'warmup', 'batch'):
        v = getattr(args, name)
        if v is not None and v < (0 if name == 'warmup' else 1):
            p.error(f'--{name} must be >= {0 if name == "warmup" else 1}, got {v}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    from repl_mm.analysis.cuda_rows import environment, format_markdown, run_rows
    from repl_mm.utils.atomic_write import atomic_write_text
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        print(f'ERROR: --device {args.device}: torch {torch.__version__} sees no GPU; run on a '
              'GPU machine (tools/gpu_check.sh) or pass --device cpu', file=sys.stderr)
        return 2
    env = dict(environment(args.device), utc=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    cmd = 'python tools/analysis_tools/benchmark_cuda.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)

    def write(rows):  # after every row: a run killed later keeps what it measured
        atomic_write_text(args.out, format_markdown(rows, env, cmd))
        if args.json:
            atomic_write_text(args.json, json.dumps(dict(environment=env, rows=rows),
                                                    indent=1, default=str))
    rows = run_rows(args.rows, args.device, args.reps, args.warmup, args.batch, on_row=write)
    print(f'benchmark_cuda: wrote {args.out}')
    return 1 if any('error' in r for r in rows) else 0
