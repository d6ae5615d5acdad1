"""Table IX rows measured: E2E / RepL, each plain, + stochastic depth (Huang et al.) and
+ checkpointing, for one backbone; training step time, training FLOPs and (CUDA) peak memory.

Stochastic depth draws which blocks run, so every figure is a mean over ``--reps`` training
steps (forward + backward + SGD step on a synthetic batch), the variants interleaved (each
repetition runs all of them, odd repetitions in reverse order). FLOPs are counted with
``torch.utils.flop_counter`` over the same number of steps and set beside the expectation
``sum_l p_l F_l + F_rest`` of Huang et al.'s linear decay.

    python tools/analysis_tools/benchmark_stochastic_depth.py cifar-resnet32 --reps 40
    python tools/analysis_tools/benchmark_stochastic_depth.py resnet101 --input-size 224 \\
        --batch-size 32 --device cuda
"""
import argparse
from typing import Any, Dict, Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from ..analysis.stochastic_depth import BACKBONES
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('backbone', choices=sorted(BACKBONES))
    p.add_argument('--p-last', type=float, default=0.5, help='p_L of the linear decay')
    p.add_argument('--reps', type=int, default=30)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--batch-size', type=int)
    p.add_argument('--input-size', type=int)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    import torch

    from ..analysis.stochastic_depth import format_stochastic_depth, run_stochastic_depth
    if args.threads:
        torch.set_num_threads(args.threads)
    res = run_stochastic_depth(args.backbone, p_last=args.p_last, reps=args.reps,
                               warmup=args.warmup, batch_size=args.batch_size,
                               input_size=args.input_size, device=args.device, seed=args.seed)
    print('\n'.join(format_stochastic_depth(res)))
    return res
