"""Table IX rows measured (paper §IV-C, Table IX): E2E / RepL, each plain, with stochastic
depth (Huang et al., linear decay to ``p_L``) and with activation checkpointing, for one
backbone: training-step time, training FLOPs and (CUDA) peak memory.

Stochastic depth draws which blocks run, so every figure is a mean over ``reps`` training
steps (forward + backward + SGD step on a synthetic batch), the variants interleaved
(:func:`~.timing.interleaved_times`). FLOPs are counted with ``torch.utils.flop_counter`` over
the same number of steps and set beside the expectation ``sum_l p_l F_l + F_rest``
(:func:`expected_flops_ratio`). ``tools/analysis_tools/benchmark_stochastic_depth.py`` is the
command line (:mod:`repl_mm.cli.benchmark_stochastic_depth`).
"""
import statistics
from typing import Any, Dict, List, Optional

__all__ = ['BACKBONES', 'build', 'step_fn', 'expected_flops_ratio', 'run_stochastic_depth',
           'format_stochastic_depth']

BACKBONES = {
    'cifar-resnet32': dict(e2e=dict(type='CifarResNet', depth=32),
                           repl=dict(type='CifarResNetRepL', depth=32, interval=4),
                           channels=64, size=32, batch=64),
    'resnet101': dict(e2e=dict(type='ResNetRepL', depth=101, interval=None, init_cfg=None),
                      repl=dict(type='ResNetRepL', depth=101, interval=4, init_cfg=None),
                      channels=2048, size=224, batch=8),
}


def build(cfg: dict, device):
    """An mmpretrain backbone in train mode and its SGD optimizer."""
    import torch

    from ..adapters import build_in_scope
    model = build_in_scope(cfg, 'mmpretrain')
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

    from ..models.stochastic_depth import StochasticDepthBlock
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


def run_stochastic_depth(backbone: str, p_last: float = 0.5, reps: int = 30, warmup: int = 3,
                         batch_size: Optional[int] = None, input_size: Optional[int] = None,
                         device: str = 'cpu', seed: int = 0) -> Dict[str, Any]:
    """Measures the six variants of ``backbone`` (a key of :data:`BACKBONES`): per variant
    the step times (seconds; process CPU time on CPU, wall time on CUDA), the mean training
    FLOPs, (CUDA) the peak memory of a step, and for the two ``+ SD`` variants the expected
    FLOPs ratio to plain."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .timing import interleaved_times
    torch.manual_seed(seed)
    spec = BACKBONES[backbone]
    size = input_size or spec['size']
    batch = batch_size or spec['batch']
    device = torch.device(device)
    x = torch.randn(batch, 3, size, size, device=device)
    sd = dict(stochastic_depth=dict(p_last=p_last))
    variants = {
        'E2E': spec['e2e'], 'RepL': spec['repl'],
        'E2E + SD': dict(spec['e2e'], **sd), 'RepL + SD': dict(spec['repl'], **sd),
        'E2E + CP': dict(spec['e2e'], with_cp=True), 'RepL + CP': dict(spec['repl'], with_cp=True),
    }
    models = {k: build(v, device) for k, v in variants.items()}
    steps = {k: step_fn(m, o, x) for k, (m, o) in models.items()}
    cuda = device.type == 'cuda'
    timings = interleaved_times(steps, reps=reps, warmup=warmup, device=device, clock='auto')
    times = {k: t.samples for k, t in timings.items()}
    flops, peak = {}, {}
    for name, (model, _) in models.items():
        counted = []
        for _ in range(reps if 'SD' in name else 1):
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
    expected = {name: expected_flops_ratio(models[name][0], x)
                for name in ('E2E + SD', 'RepL + SD')}
    return dict(backbone=backbone, batch=batch, size=size, device=str(device), p_last=p_last,
                reps=reps, cuda=cuda, names=list(steps), times=times, flops=flops, peak=peak,
                expected=expected, torch=torch.__version__, threads=torch.get_num_threads())


def format_stochastic_depth(res: Dict[str, Any]) -> List[str]:
    """The printed lines of :func:`run_stochastic_depth`'s result: a header, one row per
    variant (mean step time and training FLOPs, each against its plain variant) and the
    expected-vs-counted FLOPs of the ``+ SD`` variants."""
    cuda, times, flops, peak = res['cuda'], res['times'], res['flops'], res['peak']
    clock_name = 'wall' if cuda else 'process CPU'
    size, batch = res['size'], res['batch']
    lines = [f"{res['backbone']}, input {batch}x3x{size}x{size}, {res['device']}, "
             f"p_L = {res['p_last']}, {res['reps']} steps per variant (mean; {clock_name} "
             f"time), torch {res['torch']}, {res['threads']} threads"]
    head = f"{'variant':<12}{'step (ms)':>12}{'vs plain':>10}{'train GFLOPs':>14}{'vs plain':>10}"
    if cuda:
        head += f"{'peak MiB':>10}"
    lines.append(head)
    for name in res['names']:
        base = name.split(' + ')[0]
        t = statistics.mean(times[name])
        tb = statistics.mean(times[base])
        row = (f'{name:<12}{t * 1e3:>12.1f}{t / tb - 1:>+10.1%}{flops[name] / 1e9:>14.3f}'
               f'{flops[name] / flops[base] - 1:>+10.1%}')
        if cuda:
            row += f'{peak[name] / 2 ** 20:>10.0f}'
        lines.append(row)
    for name, exp in res['expected'].items():
        lines.append(f'{name}: expected training FLOPs / plain = {exp:.3f} (sum_l p_l F_l + '
                     f'rest), counted {flops[name] / flops[name.split(" + ")[0]]:.3f}')
    return lines
