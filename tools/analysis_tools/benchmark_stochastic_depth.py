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
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

BACKBONES = {
    'cifar-resnet32': dict(e2e=dict(type='CifarResNet', depth=32),
                           repl=dict(type='CifarResNetRepL', depth=32, interval=4),
                           channels=64, size=32, batch=64),
    'resnet101': dict(e2e=dict(type='ResNetRepL', depth=101, interval=None, init_cfg=None),
                      repl=dict(type='ResNetRepL', depth=101, interval=4, init_cfg=None),
                      channels=2048, size=224, batch=8),
}


def parse_args(argv=None):
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


def build(cfg: dict, device):
    import torch
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    import repl_mm  # noqa: F401  registers the backbones
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg)
    model.to(device)
    model.train()  # mmpretrain's ResNet.train() returns None: no chaining
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def step_fn(model, opt, x):
    def step():
        opt.zero_grad(set_to_none=True)
        model(x)[-1].float().mean().backward()
        opt.step()
    return step


def expected_flops_ratio(model, x) -> float:
    """``(F_rest + sum_l p_l F_l) / F_total`` from one all-blocks-on training step."""
    from torch.utils.flop_counter import FlopCounterMode

    from repl_mm.models.stochastic_depth import StochasticDepthBlock
    blocks = [m for m in model.modules() if isinstance(m, StochasticDepthBlock)]
    saved = [b.sd_survival for b in blocks]
    for b in blocks:
        b.sd_survival = 1.0
    with FlopCounterMode(display=False, depth=None) as fc:
        model(x)[-1].float().mean().backward()
    model.zero_grad(set_to_none=True)
    total = fc.get_total_flops()
    per_module = fc.get_flop_counts()
    root = type(model).__name__   # FlopCounterMode names modules '<RootClass>.<path>'
    names = {m: f'{root}.{n}' for n, m in model.named_modules()}
    kept = total
    for b, p in zip(blocks, saved):
        counts = per_module[names[b]]
        kept -= (1 - p) * sum(counts.values())
        b.sd_survival = p
    return kept / total


def main(argv=None):
    args = parse_args(argv)
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    spec = BACKBONES[args.backbone]
    size = args.input_size or spec['size']
    batch = args.batch_size or spec['batch']
    device = torch.device(args.device)
    x = torch.randn(batch, 3, size, size, device=device)
    sd = dict(stochastic_depth=dict(p_last=args.p_last))
    variants = {
        'E2E': spec['e2e'], 'RepL': spec['repl'],
        'E2E + SD': dict(spec['e2e'], **sd), 'RepL + SD': dict(spec['repl'], **sd),
        'E2E + CP': dict(spec['e2e'], with_cp=True), 'RepL + CP': dict(spec['repl'], with_cp=True),
    }
    models = {k: build(v, device) for k, v in variants.items()}
    steps = {k: step_fn(m, o, x) for k, (m, o) in models.items()}
    cuda = device.type == 'cuda'
    clock = time.perf_counter if cuda else time.process_time
    times = {k: [] for k in steps}
    names = list(steps)
    for i in range(args.warmup + args.reps):
        for name in (names if i % 2 == 0 else names[::-1]):
            if cuda:
                torch.cuda.synchronize()
            t0 = clock()
            steps[name]()
            if cuda:
                torch.cuda.synchronize()
            if i >= args.warmup:
                times[name].append(clock() - t0)
    flops, peak = {}, {}
    for name, (model, _) in models.items():
        counted = []
        for _ in range(args.reps if 'SD' in name else 1):
            with FlopCounterMode(display=False) as fc:
                model(x)[-1].float().mean().backward()
            model.zero_grad(set_to_none=True)
            counted.append(fc.get_total_flops())
        flops[name] = statistics.mean(counted)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            steps[name]()
            torch.cuda.synchronize()
            peak[name] = torch.cuda.max_memory_allocated()
    clock_name = 'wall' if cuda else 'process CPU'
    print(f'{args.backbone}, input {batch}x3x{size}x{size}, {device}, p_L = {args.p_last}, '
          f'{args.reps} steps per variant (mean; {clock_name} time), torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    head = f"{'variant':<12}{'step (ms)':>12}{'vs plain':>10}{'train GFLOPs':>14}{'vs plain':>10}"
    if cuda:
        head += f"{'peak MiB':>10}"
    print(head)
    for name in names:
        base = name.split(' + ')[0]
        t = statistics.mean(times[name])
        tb = statistics.mean(times[base])
        row = (f'{name:<12}{t * 1e3:>12.1f}{t / tb - 1:>+10.1%}{flops[name] / 1e9:>14.3f}'
               f'{flops[name] / flops[base] - 1:>+10.1%}')
        if cuda:
            row += f'{peak[name] / 2 ** 20:>10.0f}'
        print(row)
    for name in ('E2E + SD', 'RepL + SD'):
        exp = expected_flops_ratio(models[name][0], x)
        print(f'{name}: expected training FLOPs / plain = {exp:.3f} (sum_l p_l F_l + rest), '
              f'counted {flops[name] / flops[name.split(" + ")[0]]:.3f}')


if __name__ == '__main__':
    main()
