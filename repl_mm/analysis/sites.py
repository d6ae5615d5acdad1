"""Local measurements of the cost model (eq. 53-58): every removed block and its computing
layer run between their two neighbours (a "triple") on the input shape the E2E model feeds
there; FLOPs and saved bytes per site (:class:`SiteCost`), on the meta device where they can."""
import copy
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..core.neighbours import forward_layer
from .blocks import backbone_stages, block_kind, computing_layer_params, is_training_computing_layer
from .counters import (
    FusedAttentionOnMeta,
    count_elementwise_flops,
    count_flops,
    count_saved_bytes,
    num_params,
)

__all__ = ['capture_block_inputs', 'run_site', 'SiteCost', 'site_costs']


def capture_block_inputs(backbone: nn.Module, fn: Callable[[], Any]) -> Dict[str, torch.Size]:
    """Runs ``fn()`` and records the shape of the first input of every block of
    ``backbone`` (see :func:`backbone_stages`)."""
    shapes: Dict[str, torch.Size] = {}
    handles = []
    for stage in backbone_stages(backbone):
        for name, module in stage.values():
            handles.append(module.register_forward_pre_hook(
                lambda m, a, name=name: shapes.setdefault(name, a[0].shape) and None))
    try:
        out = fn()
        del out
    finally:
        for h in handles:
            h.remove()
    return shapes


def run_site(prev: nn.Module, mid: Optional[nn.Module], next: nn.Module, x: Tensor) -> Tensor:
    """``f_{r+1}(m(f_{r-1}(x)))`` with ``m`` the removed block, the computing layer (fed its
    neighbours, eq. 17), a deploy layer, or nothing (``remove_only``)."""
    if mid is None:  # remove_only: the two neighbours back to back
        return next(prev(x))
    layers = [prev, mid, next]
    for i in range(3):
        x = forward_layer(layers, i, x)
    return x


@dataclass
class SiteCost:
    """Per removed block ``r``: the E2E block's costs and its computing layer's.

    ``flops``/``layer_flops`` are ``F_r``/``F~_r`` (forward, eq. 53-54), ``saved``/
    ``layer_saved`` the bytes first saved by the block / the layer (``S_r``, ``S~_r``),
    ``saved_delta`` the activation bytes the replacement removes from its triple
    (``S_r - S~_r`` of eq. 58, counted over the triple so that storages shared with the
    neighbours are accounted for), ``layer_synthesis`` the bytes its synthesis keeps
    (``M_aux``), ``synthesis_flops`` the element-wise work of the synthesis (``F_synth``),
    ``train_flops_delta`` the forward + backward FLOPs removed (eq. 76), ``time``/
    ``layer_time``/``synthesis_time`` the medians of a training step (forward, backward,
    optimizer) of the block, the layer, and the layer's synthesis alone.
    """
    stage: int
    index: int
    name: str
    kind: str
    input_shape: Tuple[int, ...]
    params: int = 0
    trainable_params: int = 0
    layer_params: int = 0
    layer_trainable_params: int = 0
    flops: int = 0
    layer_flops: int = 0
    train_flops_delta: int = 0
    synthesis_flops: int = 0
    saved: int = 0
    layer_saved: int = 0
    saved_delta: int = 0
    layer_synthesis: int = 0
    time: Optional[float] = None
    layer_time: Optional[float] = None
    synthesis_time: Optional[float] = None
    timed_as: Optional[str] = None

    @property
    def eta(self) -> float:
        """Eq. 54: ``eta_r = F~_r / F_r``."""
        return self.layer_flops / self.flops if self.flops else float('nan')

def _site_modules(stages, s: int, r: int):
    stage = stages[s]
    mid = stage.get(r)
    return stage[r - 1][1], (None if mid is None else mid[1]), stage[r + 1][1]


def _triple(prev, mid, next, device):
    """The three modules on ``device`` (copied when it is meta); neighbours stay shared."""
    if device.type != 'meta':
        return prev, mid, next
    holder = nn.ModuleList([m for m in (prev, mid, next) if m is not None])
    holder = copy.deepcopy(holder).to(device)
    mods = list(holder)
    return (mods[0], mods[1], mods[2]) if mid is not None else (mods[0], None, mods[1])


def site_costs(e2e_backbone: nn.Module, repl_backbone: nn.Module,
               block_inputs: Dict[str, Sequence[int]], device='meta',
               dtype: torch.dtype = torch.float32, train_flops: bool = True) -> List[SiteCost]:
    """Measures ``P_r, a_r, F_r, F~_r, S_r, S~_r, F_synth`` for every removed block.

    Args:
        e2e_backbone (nn.Module): the E2E backbone (same architecture, nothing removed).
        repl_backbone (nn.Module): the RepL backbone (its ``removal_plan``).
        block_inputs (dict): input shape of every E2E block (:func:`capture_block_inputs`).
        device: where the local triples run; ``'meta'`` (default) counts from shapes only.
        dtype: dtype of the local inputs.
        train_flops (bool): also count the forward + backward FLOPs of each triple.
    """
    device = torch.device(device)
    plan = repl_backbone.removal_plan
    e2e_stages = backbone_stages(e2e_backbone)
    repl_stages = backbone_stages(repl_backbone)
    if len(e2e_stages) != len(plan):
        raise ValueError(f'the E2E backbone has {len(e2e_stages)} stages, the plan {len(plan)}')
    sites = []
    for s, removed in enumerate(plan):
        for r in removed:
            name, block = e2e_stages[s][r]
            prev_name = e2e_stages[s][r - 1][0]
            if prev_name not in block_inputs:
                raise ValueError(f'no input shape recorded for block {prev_name}')
            site = SiteCost(s, r, name, block_kind(block), tuple(block_inputs[name]))
            site.params = num_params(block)
            site.trainable_params = num_params(block, trainable=True)
            site.layer_params, site.layer_trainable_params = computing_layer_params(
                block, repl_backbone)
            x_shape = tuple(block_inputs[prev_name])
            measured = {}
            for tag, mods in (('e2e', _site_modules(e2e_stages, s, r)),
                              ('repl', _site_modules(repl_stages, s, r))):
                prev, mid, next = _triple(*mods, device)
                triple = nn.ModuleList([m for m in (prev, mid, next) if m is not None])

                def fwd(prev=prev, mid=mid, next=next):
                    x = torch.randn(x_shape, device=device, dtype=dtype, requires_grad=True)
                    return run_site(prev, mid, next, x)

                track = {} if mid is None else {'mid': mid}
                with FusedAttentionOnMeta():
                    saved = count_saved_bytes(fwd, triple, track)
                    flops = count_flops(fwd, track)
                    tflops = (count_flops(lambda: fwd().sum().backward()).total
                              if train_flops else 0)
                measured[tag] = (saved, flops, tflops, prev, mid, next)
            (se, fe, te, _, _, _), (sr, fr, tr, prev, mid, next) = measured['e2e'], measured['repl']
            site.flops = fe.per_module.get('mid', 0)
            site.layer_flops = fr.per_module.get('mid', 0)
            site.train_flops_delta = te - tr
            site.saved = se.per_module.get('mid', 0)
            site.layer_saved = sr.per_module.get('mid', 0)
            site.saved_delta = se.activation - sr.activation
            site.layer_synthesis = sr.synthesis
            if is_training_computing_layer(mid):
                site.synthesis_flops = count_elementwise_flops(
                    lambda: mid.synthesize(prev, next))
            sites.append(site)
    return sites
