"""``tools/test.py`` and ``repl-mm-test``: test (and evaluate) a model of mmdet,
mmsegmentation or mmpretrain (``default_scope`` picks).

Same command line as the toolboxes' ``tools/test.py``::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--out-item metrics|pred] [--show] [--show-dir DIR] [--interval N] [--tta] [--amp]
        [--no-pin-memory] [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
    tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [args]

``--show-dir`` turns on the toolbox's visualization hook (mmdet ``DetVisualizationHook``,
mmseg ``SegVisualizationHook``, mmpretrain ``VisualizationHook``) like each toolbox's test.py,
drawing every ``--interval``-th batch (mmseg) / sample (mmpretrain). ``--tta`` wraps the model
in the config's ``tta_model`` and tests with ``tta_pipeline`` (mmdet / mmpretrain: flip TTA when
the config has none). ``--amp`` runs the test loop under autocast (bf16 on CPU).
The checkpoint is loaded with ``weights_only=True``: a file carrying other pickled objects is
refused before any of its code runs. A RepL deploy checkpoint works with the training config (the
backbone switches to its deploy form); a training checkpoint with a deploy config is refused.

The data check (issue 29, :mod:`repl_mm.datasets.check`) runs before this module is imported
(``tools/test.py`` and the console script: ``repl_mm_launch.precheck``), so before torch.
"""
import argparse
import functools
import os
import os.path as osp
import runpy
from typing import Optional, Sequence

import mmengine
from mmengine.config import DictAction

from repl_mm.core.forms import CheckpointFormError
from repl_mm.engine import add_result_dump, build_runner, load_config, merge_test_args
from repl_mm.engine.fileio.safe_load import CorruptCheckpointError
from repl_mm.engine.runner import cluster

#: the data check, run by path (``repl_mm.datasets`` needs mmpretrain to import)
DATA_CHECK = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'datasets', 'check.py')

__all__ = ['parse_args', 'main']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and eval) a model (mmdet / mmseg / mmpretrain)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir',
                        help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str,
                        help='mmdet/mmpretrain: dump predictions to this pickle file; mmseg: '
                        'the directory to save output predictions')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir',
                        help='directory where painted images will be saved (mmdet/mmseg: '
                        'under work_dir/timestamp/)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='what --out holds: the metrics or the predictions (default)')
    parser.add_argument('--interval', type=int, default=1,
                        help='visualize every this many batches (mmseg) / samples (mmpretrain)')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation: the config\'s tta_model / tta_pipeline '
                        '(mmdet, mmpretrain: flip TTA if the config has none)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision test (autocast; bf16 on CPU)')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='disable pin_memory in the test dataloader')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    parser.add_argument('--non-strict', action='store_true',
                        help='load a checkpoint whose keys do not match the model (missing / '
                        'unexpected keys only warned about, as mmengine does); default: refuse')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--check-data', action='store_true',
                        help='check that the data of train/val/test is in place (paths, '
                        'layout, classes) and exit 0/1 without testing')
    args = parser.parse_args(argv)
    if args.out_item is not None and args.out is None:
        parser.error('--out-item needs --out FILE')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Runs the test loop; returns its metrics."""
    args = parse_args(argv)
    if args.check_data:  # in-process callers; the tools and scripts stop in the data check
        runpy.run_path(DATA_CHECK)['precheck']('test', argv)
    from repl_mm.utils.inputs import (
        USER_ERRORS,
        check_checkpoint_header,
        check_config_file,
        one_line,
    )
    try:   # bad input: one line naming the thing and the fix, before any work dir is made
        check_config_file(args.config)
        check_checkpoint_header(args.checkpoint)
        cfg = load_config(args.config, args.cfg_options)
        merge_test_args(cfg, args)
        runner = build_runner(cfg)
    except USER_ERRORS as e:
        raise SystemExit(f'error: {one_line(e)}') from None
    add_result_dump(runner, args.out, args.out_item)
    if not args.non_strict:
        # a checkpoint of another architecture must not be evaluated with random layers
        runner.load_checkpoint = functools.partial(runner.load_checkpoint, strict=True)
    try:
        metrics = runner.test()
    except (CheckpointFormError, CorruptCheckpointError) as e:
        raise SystemExit(f'error: checkpoint {args.checkpoint}: {e}') from None
    except RuntimeError as e:
        if 'do not match exactly' not in str(e):
            raise
        raise SystemExit(
            f'error: checkpoint {args.checkpoint} does not fit config {args.config} (another '
            f'architecture?): {str(e).strip()[:1500]}\nPass the config the checkpoint was '
            'trained with, or --non-strict to load only the matching keys') from None
    if args.out is not None and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    return metrics


def run(argv: Optional[Sequence[str]] = None, label: str = 'tools/test.py') -> int:
    """:func:`main` as a command: the process group of a multi-process test ends after the
    run's objects are gone (:func:`cluster.run_to_the_end`: no gloo thread left at exit).
    Returns 0; a stopped run exits with its code."""
    cluster.run_to_the_end(lambda: main(argv), label)
    return 0
