"""Benchmark a RepL config against its E2E twin, side by side with the analytic prediction.

Measures in one run (interleaved repetitions, medians, warm-up) the trainable parameters
(eq. 42), forward and training FLOPs (eq. 53-55), the activation memory of a training step
(bytes saved for backward, eq. 58; CUDA peak memory on GPUs), the training step time, and the
inference latency of the deploy model against the E2E model and against dynamic RepL
(Tables XI, XII); ``--compat`` adds activation checkpointing and stochastic depth (Table IX).

    python tools/analysis_tools/benchmark.py configs/resnet34_repl_imagenet.py \\
        configs/resnet34_imagenet.py --batch-size 4 --reps 10
    python tools/analysis_tools/benchmark.py resnet32-cifar --batch-size 64 --compat  # a preset
    python tools/analysis_tools/benchmark.py configs/retinanet_r50_repl_coco.py \\
        --scope backbone --batch-size 1

Without ``E2E_CFG`` the twin is the RepL config with the stock backbone class.
"""
import argparse
import sys
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    from ..utils.inputs import add_model_args
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p, 'repl', batch_size=2)
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--reps', type=int, default=10, help='timed repetitions')
    p.add_argument('--warmup', type=int, default=2, help='warm-up repetitions')
    p.add_argument('--scope', choices=['backbone', 'model', 'both'], default='both',
                   help='measure the backbone, the whole model (with its loss), or both')
    p.add_argument('--compat', action='store_true',
                   help='also with_cp=True and drop_path_rate variants (Table IX)')
    p.add_argument('--drop-path-rate', type=float, default=0.1)
    p.add_argument('--no-inference', action='store_true', help='skip Tables XI-XII')
    p.add_argument('--no-time', action='store_true', help='count only, time nothing')
    p.add_argument('--infer-batch-sizes', type=int, nargs='+',
                   help='inference batches (default: --batch-size)')
    p.add_argument('--channels-last', action='store_true', help='inference in channels_last')
    p.add_argument('--compile', action='store_true', help='torch.compile the inference models')
    p.add_argument('--amp', action='store_true',
                   help='also time inference under autocast (fp16/bf16; bf16 on CPU)')
    p.add_argument('--threads', type=int, help='torch.set_num_threads')
    p.add_argument('--clock', choices=['auto', 'wall', 'cpu'], default='auto',
                   help='auto: process CPU time on CPU (robust on a shared machine), wall '
                        'time on CUDA')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--e2e-cfg-options', nargs='+', action=DictAction, default={},
                   help='overrides of the E2E config')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None):
    from ..utils.inputs import run_cli
    return run_cli(parse_args, _main, argv)   # bad input: one line naming the thing and the fix


def _main(args):
    import torch

    from ..analysis import (
        BenchmarkOptions,
        format_report,
        load_spec,
        run_benchmark,
        save_json,
    )
    from ..datasets.check import precheck_configs
    # issue 29: the data the models read (model.vocab_from), checked first
    precheck_configs([args.repl], args.cfg_options, scope='model')
    precheck_configs([args.e2e], args.e2e_cfg_options, scope='model')
    if args.threads:
        torch.set_num_threads(args.threads)
    repl = load_spec(args.repl, args.cfg_options, args.input_size)
    e2e = (load_spec(args.e2e, args.e2e_cfg_options, args.input_size or repl.input_size)
           if args.e2e else None)
    opts = BenchmarkOptions(
        batch_size=args.batch_size, device=args.device, reps=args.reps, warmup=args.warmup,
        scopes=('backbone', 'model') if args.scope == 'both' else (args.scope,),
        compat=args.compat, drop_path_rate=args.drop_path_rate,
        inference=not args.no_inference, infer_batch_sizes=args.infer_batch_sizes,
        channels_last=args.channels_last, compile=args.compile, amp=args.amp,
        train_time=not args.no_time, clock=args.clock, seed=args.seed)
    res = run_benchmark(repl, e2e, opts, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(format_report(res))
    if args.json:
        save_json(res, args.json)
    return res
