"""Timing the sites of the cost model: one training step of each removed block and of its
computing layer inside their triples, interleaved, and the step-time ratio they predict
(``T_RepL = T_E2E - sum_r (T_r - T~_r)``, eq. 76)."""
import statistics
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .blocks import backbone_stages, is_training_computing_layer
from .sites import SiteCost, _site_modules
from .timing import interleaved_times

__all__ = ['site_step_fns', 'assign_site_times', 'paired_time_ratio', 'time_sites']


def _grad_outputs(out) -> List[Tensor]:
    return [t for t in (out if isinstance(out, (tuple, list)) else [out])
            if isinstance(t, Tensor) and t.requires_grad]


def site_step_fns(sites: List[SiteCost], e2e_backbone: nn.Module, repl_backbone: nn.Module,
                  make_optimizer: Callable[[List[nn.Parameter]],
                                           Optional[torch.optim.Optimizer]],
                  device='cpu', dtype: torch.dtype = torch.float32
                  ) -> Dict[str, Callable[[], None]]:
    """Training-step callables of every distinct removed site, to be timed interleaved with
    the whole-model steps (so that the prediction and the measurement share the machine's
    state).

    For each site: ``'<name>:block'`` (the E2E block), ``'<name>:layer'`` (the computing
    layer, fed its neighbours) and ``'<name>:synthesis'`` (the weight synthesis alone). A step
    is forward, backward (the input requires grad, as inside the model) and an optimizer
    step over the module's own trainable parameters. Sites of one stage with equal input
    shapes share one callable: the later ones get ``timed_as`` set to the first one's name.

    Args:
        make_optimizer: builds the optimizer for a parameter list (like the model's).
    """
    device = torch.device(device)
    e2e_stages = backbone_stages(e2e_backbone)
    repl_stages = backbone_stages(repl_backbone)
    done: Dict[Tuple, str] = {}
    fns: Dict[str, Callable[[], None]] = {}
    for site in sites:
        key = (site.stage, site.input_shape)
        if key in done:
            site.timed_as = done[key]
            continue
        site.timed_as = done[key] = site.name
        block = e2e_stages[site.stage][site.index][1]
        prev, layer, next = _site_modules(repl_stages, site.stage, site.index)
        x = torch.randn(site.input_shape, device=device, dtype=dtype, requires_grad=True)
        with torch.no_grad():
            grad = torch.randn_like(block(x))

        def stepper(module, call, x=x, grad=grad):
            params = [p for p in module.parameters() if p.requires_grad]
            opt = make_optimizer(params) if params else None

            def step():
                if opt is not None:
                    opt.zero_grad(set_to_none=True)
                outs = _grad_outputs(call())
                if outs:
                    torch.autograd.backward(outs, [grad])
                x.grad = None
                if opt is not None:
                    opt.step()
            return step

        fns[f'{site.name}:block'] = stepper(block, lambda b=block, x=x: b(x))
        if layer is not None:
            if is_training_computing_layer(layer):
                fns[f'{site.name}:layer'] = stepper(
                    layer, lambda m=layer, p=prev, n=next, x=x: m(x, p, n))
                fns[f'{site.name}:synthesis'] = _synthesis_step(layer, prev, next)
            else:
                fns[f'{site.name}:layer'] = stepper(layer, lambda m=layer, x=x: m(x))
    return fns


def assign_site_times(sites: List[SiteCost], times: Dict[str, Any]) -> None:
    """Copies the medians of :func:`site_step_fns` callables (``times``: name -> object with
    ``median``) into ``time``, ``layer_time``, ``synthesis_time`` of every site."""
    def median(key):
        return times[key].median if key in times else 0.0
    for site in sites:
        ref = site.timed_as or site.name
        site.time = median(f'{ref}:block')
        site.layer_time = median(f'{ref}:layer')
        site.synthesis_time = median(f'{ref}:synthesis')


def paired_time_ratio(sites: List[SiteCost], e2e_samples: Sequence[float],
                      site_samples: Dict[str, Sequence[float]]) -> float:
    """The predicted step-time ratio ``1 - sum_r (T_r - T~_r) / T_E2E``, evaluated for every
    repetition of one interleaved run and reduced to its median.

    Args:
        e2e_samples: the E2E step times, one per repetition.
        site_samples: ``'<name>:block'`` / ``'<name>:layer'`` -> samples of the same
            repetitions (:func:`site_step_fns` names).
    """
    ratios = []
    for i, t in enumerate(e2e_samples):
        saved = 0.0
        for site in sites:
            ref = site.timed_as or site.name
            layer = site_samples.get(f'{ref}:layer')
            saved += site_samples[f'{ref}:block'][i] - (layer[i] if layer else 0.0)
        ratios.append(1 - saved / t)
    return statistics.median(ratios)


def time_sites(sites: List[SiteCost], e2e_backbone: nn.Module, repl_backbone: nn.Module,
               make_optimizer: Callable[[List[nn.Parameter]], Optional[torch.optim.Optimizer]],
               reps: int = 10, warmup: int = 2, device='cpu',
               dtype: torch.dtype = torch.float32, clock: str = 'auto') -> None:
    """Times the sites on their own (:func:`site_step_fns`, interleaved) and fills ``time``,
    ``layer_time``, ``synthesis_time`` in place."""
    fns = site_step_fns(sites, e2e_backbone, repl_backbone, make_optimizer, device, dtype)
    assign_site_times(sites, interleaved_times(fns, reps=reps, warmup=warmup, device=device,
                                               clock=clock))


def _synthesis_step(layer: nn.Module, prev: nn.Module, next: nn.Module) -> Callable[[], None]:
    """Forward and backward of the weight synthesis alone (eq. 9-10, 30-31)."""
    def step():
        op = layer.synthesize(prev, next)
        outs = [t for t in op.values() if isinstance(t, Tensor) and t.requires_grad]
        if outs:
            torch.autograd.backward(outs, [torch.ones_like(t) for t in outs])
            for p in layer.parameters():
                p.grad = None
    return step
