"""Real-data evidence on this machine: accuracy over seeds and measured cost, per config.

    python tools/analysis_tools/evidence.py [--configs C ...] [--seeds 0 1 2 3 4]
        [--epochs E] [--work-dir work_dirs/evidence] [--out docs/evidence.md]
        [--plot docs/evidence.png] [--batch-size 64] [--reps 5] [--section NAME]
        [--measure-only] [--note TEXT] [--jobs N]

For every config (default: the eleven of ``configs/evidence/``) it

1. trains it over the seeds with ``tools/multi_seed.py`` (``--epochs`` overrides
   ``train_cfg.max_epochs``; resumable: finished seeds are kept) and reads the mean ± sample
   std of each metric (``WORK_DIR/<config>/multi_seed.json``). ``--jobs N`` runs N
   trainings (one config, one seed) at a time, each with ``cores // N`` threads
   (``OMP_NUM_THREADS``) and its output in ``WORK_DIR/<config>/seed_<S>.log``; the costliest
   configs (measured step time x epochs) start first. On a small CPU two one-thread jobs
   train about twice as fast as one two-thread job (small models do not scale over threads);
2. measures, in this same run (before the training, on an idle machine), the trainable
   parameters, the activation memory of one training step (bytes autograd saves for
   backward, eq. 58 of the RepL paper, counted with ``count_saved_bytes``) and the training
   step time (forward + loss + backward + the config's optimizer step; all configs
   interleaved, medians) on a batch of ``--batch-size`` random images of the config's
   training crop;
3. writes a markdown section (table, command, machine) into ``--out`` between the markers
   ``<!-- BEGIN evidence:NAME -->`` / ``<!-- END evidence:NAME -->`` (the rest of the file is
   kept) and a plot to ``--plot``.

``--measure-only`` skips step 1 (cost rows only; e.g. E2E vs SkipAt vs RepL on the paper's
configs, where no data is needed). A list of configs of any mmpretrain classifier works; the
reference of the "vs" columns is the first listed config of the same backbone family.
"""
import argparse
import os.path as osp
import shlex
import sys
from typing import Any, Dict, Optional, Sequence

DEFAULT_CONFIGS = [
    'configs/evidence/cifar-resnet32_digits.py',
    'configs/evidence/cifar-resnet32_repl_digits.py',
    'configs/evidence/cifar-resnet32_remove-only_digits.py',
    'configs/evidence/cifar-resnet32_repl-p25_digits.py',
    'configs/evidence/cifar-resnet32_repl-no-weights_digits.py',
    'configs/evidence/cifar-resnet32_repl-prev_digits.py',
    'configs/evidence/cifar-resnet32_repl-next_digits.py',
    'configs/evidence/cifar-resnet32_repl-shared_digits.py',
    'configs/evidence/vit-tiny-p8_digits.py',
    'configs/evidence/vit-tiny-p8_repl_digits.py',
    'configs/evidence/vit-tiny-p8_skipat_digits.py',
]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    p.add_argument('--epochs', type=int, help='override train_cfg.max_epochs of every config '
                   '(>= 2: the evidence schedules warm up for 1 epoch, then anneal)')
    p.add_argument('--work-dir', default='work_dirs/evidence')
    p.add_argument('--out', default='docs/evidence.md')
    p.add_argument('--plot', default='docs/evidence.png', help="'' for none")
    p.add_argument('--section', default='training', help='marker name of the written section')
    p.add_argument('--title', default='Accuracy over seeds and measured cost')
    p.add_argument('--note', default='', help='a paragraph put under the title')
    p.add_argument('--batch-size', type=int, default=64, help='batch of the cost measurement')
    p.add_argument('--reps', type=int, default=5, help='timed repetitions (interleaved)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, help='torch.set_num_threads for the measurement')
    p.add_argument('--jobs', type=int, default=1,
                   help='configs trained at the same time (each with cores // jobs threads)')
    p.add_argument('--measure-only', action='store_true', help='no training, cost rows only')
    p.add_argument('--metric', default='accuracy/top1', help='the accuracy column')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='K=V',
                   help='passed to every training run (tools/multi_seed.py), e.g. '
                        'train_dataloader.dataset.indices=320 for a smoke run')
    args = p.parse_args(argv)
    missing = [c for c in args.configs if not osp.isfile(c)]
    if missing:
        p.error(f'config(s) not found: {missing}')
    if args.epochs is not None and args.epochs < 1:
        p.error(f'--epochs must be >= 1, got {args.epochs}')
    if args.jobs < 1:
        p.error(f'--jobs must be >= 1, got {args.jobs}')
    if args.threads is not None and args.threads < 1:
        p.error(f'--threads must be >= 1, got {args.threads}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """``tools/analysis_tools/evidence.py``: returns what ``WORK_DIR/evidence_<section>.json``
    holds; a failed training exits (``SystemExit``) naming each config, seed and output."""
    args = parse_args(argv)
    from ..analysis.evidence import run_evidence
    command = shlex.join(['python', 'tools/analysis_tools/evidence.py'] + list(
        sys.argv[1:] if argv is None else argv))
    try:
        return run_evidence(args, command)
    except RuntimeError as err:
        raise SystemExit(str(err)) from None
