"""``tools/train.py`` and ``repl-mm-train``: train a model of mmdet, mmsegmentation or
mmpretrain (the config's ``default_scope`` picks).

Same command line as the toolboxes' ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--auto-scale-lr] [--no-validate] [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
    tools/dist_train.sh CONFIG NUM_PROCESSES [args]     # torchrun

RepL backbones (``type='ResNetRepL'`` ...) always resolve, checkpoints are loaded with
``weights_only=True`` (a file carrying other pickled objects is refused), and the pytorch/slurm
launchers refuse to start where torch sees no GPU unless ``REPL_MM_ALLOW_CPU_DIST=1`` (then CPU
processes on gloo). Checkpoints are saved atomically, ``--resume`` falls back to the newest
checkpoint that loads, a NaN/inf loss stops training (exit code 1) and resuming restores the
random state (docs/training.md). See :mod:`repl_mm.engine`.

The data check (issue 29, :mod:`repl_mm.datasets.check`) runs before this module is imported
(``tools/train.py`` and the console script: ``repl_mm_launch.precheck``), so before torch.
"""
import argparse
import os
import os.path as osp
import runpy
from typing import Optional, Sequence

from mmengine.config import DictAction

from repl_mm.engine import build_runner, load_config, merge_train_args
from repl_mm.engine.runner import cluster
from repl_mm.engine.runner.workdir_lock import acquire_workdir_lock

#: the data check, run by path (``repl_mm.datasets`` needs mmpretrain to import)
DATA_CHECK = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'datasets', 'check.py')

__all__ = ['parse_args', 'main', 'run']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model (mmdet / mmseg / mmpretrain)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='enable automatically scaling LR')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or without a value from the '
                        'latest checkpoint in the work directory')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs, e.g. '
                        'train_cfg.max_epochs=2 or key="[a,b]"; no white space inside a pair')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--check-data', action='store_true',
                        help='check that the data of train/val/test is in place (paths, '
                        'layout, classes) and exit 0/1 without training')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: Optional[Sequence[str]] = None):
    """Runs training; returns the Runner (for callers that run it in-process)."""
    args = parse_args(argv)
    if args.check_data:  # in-process callers; the tools and scripts stop in the data check
        runpy.run_path(DATA_CHECK)['precheck']('train', argv)
    cfg = load_config(args.config, args.cfg_options)
    merge_train_args(cfg, args)
    # one run per work dir (rank 0), taken before anything is built (repl_mm.engine.runner)
    lock = acquire_workdir_lock(cfg.work_dir)
    try:
        cluster.add_cluster_defaults(cfg)  # preemption checkpoint, model fingerprint, exact resume
        runner = build_runner(cfg)
        runner.train()
    finally:
        if lock is not None:
            lock.release()
    return runner



def run(argv: Optional[Sequence[str]] = None, label: str = 'tools/train.py') -> int:
    """:func:`main` as a command: a cluster error (busy work dir, changed model, write error)
    is one line starting with ``label`` and exit code 1 (:func:`cluster.cluster_errors`); the
    process group ends after the run's objects are gone (:func:`cluster.run_to_the_end`: no
    gloo thread left at exit). Returns 0; a stopped run exits with its code."""
    cluster.run_to_the_end(lambda: main(argv), label)
    return 0
