"""``tools/analysis_tools/frontier.py``: the savings frontier (issue 28,
:mod:`repl_mm.analysis.frontier`)::

    python tools/analysis_tools/frontier.py CONFIG [--fractions 0.2 0.27 0.4]
        [--seeds 0 1 2] [--jobs 2] [--work-dir work_dirs/frontier] [--out-json F]
        [--plot docs/frontier.png] [--doc docs/evidence.md] [--section NAME]
        [--batch-size 64] [--reps 5] [--remeasure] [--measure-only]
        [--cfg-options k=v ...]

A second run with the same ``--out-json`` resumes: measured costs and finished seeds are kept.
"""
import argparse
import os.path as osp
import shlex
import sys
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Accuracy against measured cost: RepL, '
                                'remove-only and an equal-cost shallower E2E network')
    p.add_argument('config', help='a RepL classification config (mmpretrain scope)')
    p.add_argument('--fractions', type=float, nargs='+', default=[0.2, 0.27, 0.4])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--jobs', type=int, default=1, help='trainings at a time')
    p.add_argument('--work-dir', default=None,
                   help='default: work_dirs/frontier/<config name>')
    p.add_argument('--out-json', default=None, help='default: WORK_DIR/frontier.json')
    p.add_argument('--plot', default=None, help='PNG of the frontier (default: none)')
    p.add_argument('--doc', default=None, help='markdown file to write the section into')
    p.add_argument('--section', default='main', help='marker name of the section')
    p.add_argument('--metric', default='accuracy/top1')
    p.add_argument('--batch-size', type=int, default=64, help='batch of the cost measurement')
    p.add_argument('--reps', type=int, default=5, help='timed repetitions (interleaved)')
    p.add_argument('--remeasure', action='store_true', help='measure the costs again')
    p.add_argument('--measure-only', action='store_true', help='plans and costs, no training')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='K=V',
                   help='passed to every training (e.g. train_cfg.max_epochs=2)')
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f'--jobs must be >= 1, got {args.jobs}')
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds must be distinct, got {args.seeds}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from ..analysis.frontier import run_frontier
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', 'frontier', name)
    out_json = args.out_json or osp.join(work_dir, 'frontier.json')
    command = 'python tools/analysis_tools/frontier.py ' + ' '.join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        run_frontier(args.config, args.fractions, args.seeds, work_dir, out_json,
                     jobs=args.jobs, metric=args.metric, batch_size=args.batch_size,
                     reps=args.reps, remeasure=args.remeasure, measure_only=args.measure_only,
                     plot=args.plot, doc=args.doc, section=args.section, command=command,
                     extra_options=args.cfg_options)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        print(f'frontier: {err}', file=sys.stderr)
        return 1
    print(f'frontier: results in {out_json}' + (f', plot {args.plot}' if args.plot else ''))
    return 0
