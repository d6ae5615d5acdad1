"""The models of a benchmark and one instrumented step: the RepL / E2E variants (Table IX
compat pairs), the loss and inference closures of a scope, :func:`measure_step` (eq. 53, 58,
76), the plan checks and the noisy-target check shared by the training and inference
benchmarks."""
from typing import Any, Callable, Dict, List, Sequence

import torch
from torch import Tensor, nn

from .benchmark_options import BenchmarkOptions
from .blocks import backbone_stages
from .counters import (
    SavedTensorCounter,
    flatten_tensors,
    flop_counter,
)
from .specs import ModelSpec, build_model

__all__ = ['backbone_loss', 'measure_step', 'build_variants']


def backbone_loss(out) -> Tensor:
    """A loss over every backbone output (the mean of each), to drive backward through the
    backbone alone."""
    return sum(t.float().mean() for t in flatten_tensors(out))


def _loss_fn(model: nn.Module, scope: str, x: Tensor, samples: list) -> Callable[[], Tensor]:
    if scope == 'backbone':
        return lambda: backbone_loss(model.backbone(x))
    return lambda: model.parse_losses(model.loss(x, samples))[0]


def _infer_fn(model: nn.Module, scope: str, x: Tensor) -> Callable[[], Any]:
    if scope == 'backbone':
        return lambda: model.backbone(x)
    return lambda: model(x, None, mode='tensor')


def _twin(name: str) -> str:
    """``'repl+cp'`` -> ``'e2e+cp'`` (E2E names map to themselves)."""
    return 'e2e' + name[len('repl'):] if name.startswith('repl') else name


def measure_step(model: nn.Module, loss_fn: Callable[[], Tensor]) -> Dict[str, Any]:
    """One instrumented training step: bytes saved by the forward (activation / synthesis,
    :class:`~repl_mm.analysis.counters.SavedTensorCounter`, eq. 58), forward FLOPs and
    forward + backward FLOPs (eq. 53, 76)."""
    with flop_counter() as fc:
        with torch.enable_grad(), SavedTensorCounter(model) as counter:
            loss = loss_fn()
        fwd = fc.get_total_flops()
        loss.backward()
    model.zero_grad(set_to_none=True)
    saved = counter.result
    return dict(activation=saved.activation, synthesis=saved.synthesis, flops=fwd,
                train_flops=fc.get_total_flops())


def build_variants(repl: ModelSpec, e2e: ModelSpec, opts: BenchmarkOptions,
                   notes: List[str]) -> Dict[str, nn.Module]:
    """The models of a benchmark, in train mode on ``opts.device``: ``e2e`` and ``repl``, and
    with ``opts.compat`` the activation-checkpointing (``+cp``) and stochastic-depth
    (``+sd``) pairs of Table IX. A compat pair the backbone does not support (a ViT has no
    ``with_cp``) is skipped with a line in ``notes``."""
    variants = {'': {}}
    if opts.compat:
        variants['+cp'] = {'with_cp': True}
        variants['+sd'] = {'drop_path_rate': opts.drop_path_rate}
    models: Dict[str, nn.Module] = {}
    for suffix, overrides in variants.items():
        try:
            pair = {f'e2e{suffix}': build_model(e2e, overrides),
                    f'repl{suffix}': build_model(repl, overrides)}
        except TypeError as err:  # e.g. a ViT has no with_cp
            if not suffix:
                raise
            notes.append(f'variant {suffix} skipped: {err}')
            continue
        models.update(pair)
    for m in models.values():
        m.to(opts.device).train()
    return models

def _noisy_check(name: str, value: float, ci: Sequence[float], target: float,
                 passes: Callable[[float], bool], relation: str) -> dict:
    """A timing target: ``ok`` if the median passes, ``noise`` if only some value inside its
    95% bootstrap interval does (the machine's noise hides the answer), ``MISS`` otherwise."""
    lo, hi = ci
    probe = [lo, hi] + ([target] if lo <= target <= hi else [])
    status = 'ok' if passes(value) else ('noise' if any(passes(v) for v in probe) else 'MISS')
    return dict(name=name, value=value, ci=[lo, hi], target=target, relation=relation,
                ok=status == 'ok', status=status)

def _check_fixed_plan(repl: ModelSpec, rb: nn.Module) -> None:
    """The cost model and the benchmark compare a fixed removal plan with E2E.

    Raises:
        ValueError: the backbone is not RepL, or it is Adaptive-RepL (``adaptive=True`` keeps
            every block and re-selects the replaced ones each epoch, so there is no fixed plan
            whose savings could be predicted or measured).
    """
    if not hasattr(rb, 'removal_plan'):
        raise ValueError(f'{repl.source}: backbone {type(rb).__name__} has no removal_plan '
                         '(is it a RepL backbone?)')
    if getattr(rb, 'adaptive', False):
        raise ValueError(f'{repl.source}: backbone {type(rb).__name__} has adaptive=True: '
                         'Adaptive-RepL keeps every block (and a computing layer per candidate) '
                         'and changes the replaced set each epoch, so it has no fixed plan to '
                         'predict or benchmark; use the fixed RepL config (adaptive=False)')
    if not any(rb.removal_plan):
        raise ValueError(
            f'{repl.source}: the plan removes no block (interval '
            f"{getattr(rb, 'interval', None)!r}, replace_blocks "
            f"{getattr(rb, 'replace_blocks', None)!r}): RepL is then the E2E model and there is "
            'nothing to predict or benchmark; use an interval smaller than the stage lengths '
            '(e.g. 4) or a non-empty replace_blocks')


def _removal_info(repl: ModelSpec, models: Dict[str, nn.Module]) -> Dict[str, Any]:
    rb = models['repl'].backbone
    _check_fixed_plan(repl, rb)
    stages = backbone_stages(models['e2e'].backbone)
    return dict(plan=rb.removal_plan, interval=getattr(rb, 'interval', None),
                replace_blocks=getattr(rb, 'replace_blocks', None),
                num_blocks=[len(s) for s in stages],
                num_removed=sum(len(p) for p in rb.removal_plan))
