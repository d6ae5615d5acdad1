"""The analytic cost model of RepL (paper §V-B, eq. 42-58 and eq. 76).

For a backbone and a removal plan it predicts what RepL saves, from the E2E model's own
block shapes:

* parameters, eq. 42: ``P_RepL = P_E2E - sum_r (P_r - a_r)`` with ``P_r`` counted on the
  removed E2E block and ``a_r`` from eq. 44 (BasicBlock: ``4C``), eq. 47 (Bottleneck:
  ``2B + 2C``) or eq. 50 (ViT: ``2`` or ``2H``), adjusted for the ablation switches
  (one neighbour or a shared coefficient: one coefficient vector; ``remove_only``: 0) and for
  frozen or non-affine norms;
* forward FLOPs, eq. 53: ``F_RepL = F_E2E - sum_r F_r + sum_r F~_r + F_synth``;
* activation memory, eq. 58: ``M_RepL = M_E2E - sum_r (S_r - S~_r) + M_aux``;
* training-step time, with the same subtract-and-add structure: ``T_RepL = T_E2E -
  sum_r (T_r - T~_r)``, and eq. 76 (cost proportional to training FLOPs).

``F_r``, ``S_r``, ``T_r`` belong to the removed E2E block ``r``; ``F~_r``, ``S~_r``, ``T~_r``
to the computing layer that takes its place. Every per-site figure is measured *locally*: the
removed block and the computing layer each run between their two neighbours (a
"triple": ``f_{r-1}, f_r, f_{r+1}`` against ``f_{r-1}, g_r, f_{r+1}``) on an input of the
shape the E2E model feeds there, so that saved storages shared between adjacent blocks are
counted exactly as in the whole model. FLOP and byte counts depend on shapes only, so the
local runs can use the meta device (no computation at all). The whole RepL model is never
run to make the prediction; ``tools/analysis_tools/benchmark.py`` measures it and compares.

Closed forms of the paper for comparison: eq. 43, 46, 49 (``P_r``), eq. 52 and 55
(homogeneous approximations), eq. 56-57 (``eta_r``).
"""
import copy
import statistics
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..core.layer import is_training_layer
from ..core.neighbours import forward_layer
from .counters import (
    FusedAttentionOnMeta,
    count_elementwise_flops,
    count_flops,
    count_saved_bytes,
    num_params,
)
from .timing import interleaved_times

__all__ = ['basic_block_params', 'bottleneck_params', 'vit_block_params', 'eta_basic',
           'eta_vit', 'param_ratio_eq52', 'flop_ratio_eq55', 'backbone_stages',
           'block_kind', 'computing_layer_params', 'capture_block_inputs', 'SiteCost',
           'CostModel', 'site_costs', 'site_step_fns', 'assign_site_times', 'paired_time_ratio',
           'time_sites', 'run_site', 'is_training_computing_layer']


# --------------------------------------------------------------------------------------------
# closed forms of §V-B
# --------------------------------------------------------------------------------------------
def basic_block_params(channels: int, q: int = 3) -> int:
    """Eq. 43: ``P_r = 2 C^2 q^2 + 4C`` (two q x q convs without bias, two affine BNs)."""
    return 2 * channels ** 2 * q ** 2 + 4 * channels


def bottleneck_params(channels: int, mid_channels: int, q: int = 3, groups: int = 1) -> int:
    """Eq. 46: ``P_r = 2 C B + B^2 q^2 + 4B + 2C`` (``B^2 q^2 / groups`` for grouped convs)."""
    return (2 * channels * mid_channels + mid_channels ** 2 * q ** 2 // groups
            + 4 * mid_channels + 2 * channels)


def vit_block_params(embed_dims: int, feedforward_channels: Optional[int] = None) -> int:
    """Eq. 49 written out: ``P_r = 4d^2 + 2 d h + O(d)`` (``12 d^2 + 13 d`` for ``h = 4d``):
    QKV and output projections with bias, the two MLP linears with bias, two LayerNorms."""
    d = embed_dims
    h = 4 * d if feedforward_channels is None else feedforward_channels
    return 4 * d * d + 4 * d + 2 * d * h + h + d + 4 * d


def eta_basic() -> float:
    """Eq. 56: a BasicBlock's two q x q convs become one, ``eta = F~_r / F_r = 1/2``."""
    return 0.5


def eta_vit(tokens: int, embed_dims: int) -> float:
    """Eq. 57: one token-wise projection for a whole block, ``eta = 1 / (12 + 2T/d)``."""
    return 1.0 / (12 + 2 * tokens / embed_dims)


def param_ratio_eq52(interval: float, a_mean: float, p_mean: float) -> float:
    """Eq. 52: ``P_RepL / P_E2E ~ 1 - (1 - a/P) / K`` for nearly homogeneous blocks
    (``1/K`` standing for the removed fraction ``R/N``)."""
    return 1 - (1 - a_mean / p_mean) / interval


def flop_ratio_eq55(interval: float, eta_mean: float) -> float:
    """Eq. 55 (and eq. 76): ``F_RepL / F_E2E ~ 1 - (1 - eta) / K``."""
    return 1 - (1 - eta_mean) / interval


# --------------------------------------------------------------------------------------------
# the blocks of a backbone
# --------------------------------------------------------------------------------------------
def backbone_stages(backbone: nn.Module) -> List['OrderedDict[int, Tuple[str, nn.Module]]']:
    """The residual blocks of a backbone, per stage: ``{index: (qualified name, module)}``.

    Understands mm ResNets (``res_layers``; a RepL stage keeps the stock child names, so a
    computing layer sits at the removed block's index and ``remove_only`` leaves a gap) and
    ViTs (one stage, ``layers``).
    """
    if hasattr(backbone, 'res_layers'):
        stages = []
        for lname in backbone.res_layers:
            stage = getattr(backbone, lname)
            stages.append(OrderedDict((int(c), (f'{lname}.{c}', m))
                                      for c, m in stage.named_children()))
        return stages
    layers = getattr(backbone, 'layers', None)
    if isinstance(layers, nn.ModuleList):
        return [OrderedDict((i, (f'layers.{i}', m)) for i, m in enumerate(layers))]
    raise ValueError(f'{type(backbone).__name__} is not a supported backbone: expected a '
                     'ResNet (res_layers) or a ViT (layers)')


def block_kind(block: nn.Module) -> str:
    """``'bottleneck'``, ``'basic'`` or ``'vit'`` for a residual block."""
    if hasattr(block, 'conv3'):
        return 'bottleneck'
    if hasattr(block, 'conv1') and hasattr(block, 'conv2'):
        return 'basic'
    from ..core.vit import transformer_block_parts
    if transformer_block_parts(block).proj is not None:
        return 'vit'
    raise ValueError(f'cannot tell the kind of block {type(block).__name__}')


def is_training_computing_layer(module: Optional[nn.Module]) -> bool:
    """True for a computing layer in training form (called as ``layer(x, prev, next)``)."""
    return module is not None and is_training_layer(module)


def _option(backbone: nn.Module, name: str, default):
    return getattr(backbone, name, default)


def computing_layer_params(block: nn.Module, repl_backbone: nn.Module) -> Tuple[int, int]:
    """``(a_r, trainable a_r)``: parameters of the computing layer that replaces ``block``.

    Eq. 44 (BasicBlock ``2C`` coefficients + ``2C`` BN affine), eq. 47 (Bottleneck ``2B +
    2C``), eq. 50 (ViT: 2 scalar or ``2H`` head-wise coefficients for the attention
    branch; the MLP-fusion branch has none). With one neighbour or a shared coefficient the
    coefficients are halved; ``remove_only`` gives 0. The BN affine counts only if the
    removed block's last norm is affine, and is trainable only if that norm is (mm configs
    with ``norm_cfg=dict(requires_grad=False)``); a frozen block's layer is frozen.

    Args:
        block (nn.Module): the removed E2E block.
        repl_backbone (nn.Module): the RepL backbone (its ``neighbours``, ``coefficients``,
            ``remove_only``, ``head_wise``, ``synthesis_branches`` attributes).
    """
    if _option(repl_backbone, 'remove_only', False):
        return 0, 0
    if _option(repl_backbone, 'neighbours', 'both') == 'none':
        return _own_layer_params(block, repl_backbone)
    coefficients = _option(repl_backbone, 'coefficients', 'separate')
    if coefficients == 'fixed':  # fixed coefficients: alpha = beta = 1/2, not trainable
        vectors = 0
    else:
        vectors = (2 if _option(repl_backbone, 'neighbours', 'both') == 'both'
                   and coefficients == 'separate' else 1)
    frozen = not any(p.requires_grad for p in block.parameters())
    kind = block_kind(block)
    norm = None
    if kind == 'basic':
        groups, channels, norm = block.conv2.out_channels, block.conv2.out_channels, block.norm2
    elif kind == 'bottleneck':
        groups, channels, norm = block.conv2.out_channels, block.conv3.out_channels, block.norm3
    else:
        branches = _option(repl_backbone, 'synthesis_branches', ('attn', 'mlp'))
        heads = block.attn.num_heads if _option(repl_backbone, 'head_wise', False) else 1
        groups = heads if 'attn' in branches else 0
        channels = 0
    coef = vectors * groups
    affine = norm is not None and getattr(norm, 'weight', None) is not None
    norm_params = 2 * channels if affine else 0
    norm_trainable = norm_params if affine and norm.weight.requires_grad else 0
    return coef + norm_params, 0 if frozen else coef + norm_trainable


def _own_layer_params(block: nn.Module, repl_backbone: nn.Module) -> Tuple[int, int]:
    """``(a_r, trainable a_r)`` of a Table VI "no weights" layer (:mod:`repl_mm.core.own`):
    its own operator of the synthesized shape plus a CNN layer's BN affine."""
    from ..core.own import own_param_count
    frozen = not any(p.requires_grad for p in block.parameters())
    kind = block_kind(block)
    norm = None
    if kind == 'basic':
        n = own_param_count('basic', channels=block.conv2.out_channels)
        norm = block.norm2
    elif kind == 'bottleneck':
        n = own_param_count('bottleneck', channels=block.conv3.out_channels,
                            mid_channels=block.conv2.out_channels, groups=block.conv2.groups)
        norm = block.norm3
    else:
        from ..core.vit import transformer_block_parts
        parts = transformer_block_parts(block)
        n = own_param_count('vit', embed_dims=parts.proj.in_features,
                            feedforward_channels=parts.fc1.out_features,
                            branches=_option(repl_backbone, 'synthesis_branches',
                                             ('attn', 'mlp')),
                            head_wise=_option(repl_backbone, 'head_wise', False))
    if norm is not None and getattr(norm, 'weight', None) is None:
        n -= 2 * norm.num_features   # a non-affine BN
    return n, 0 if frozen else n


# --------------------------------------------------------------------------------------------
# local measurements
# --------------------------------------------------------------------------------------------
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


@dataclass
class CostModel:
    """Predictions of eq. 42, 53, 58 (and the step-time analogue) for one plan.

    Args:
        sites (list[SiteCost]): the removed blocks.
        plan (list[list[int]]): the removal plan (0-based indices per stage).
        params, trainable_params: ``P_E2E`` (all / trainable) of the measured scope.
        flops: ``F_E2E``, forward FLOPs of the measured scope.
        train_flops: forward + backward FLOPs of the E2E step (optional).
        activation: ``M_act^E2E``, activation bytes saved by the E2E forward.
        time: E2E training-step time (optional).
        interval: ``K``, for the homogeneous approximations.
        num_blocks: ``N``, the number of blocks of the E2E backbone (same use).
        time_ratio: the predicted step-time ratio when computed pairwise from interleaved
            samples (:func:`paired_time_ratio`); otherwise it follows from the medians.
    """
    sites: List[SiteCost]
    plan: List[List[int]]
    params: int
    trainable_params: int
    flops: int
    activation: int
    train_flops: Optional[int] = None
    time: Optional[float] = None
    interval: Optional[int] = None
    time_ratio: Optional[float] = None
    num_blocks: Optional[int] = None
    notes: List[str] = field(default_factory=list)

    # eq. 42
    @property
    def pred_params(self) -> int:
        return self.params - sum(s.params - s.layer_params for s in self.sites)

    @property
    def pred_trainable_params(self) -> int:
        return self.trainable_params - sum(s.trainable_params - s.layer_trainable_params
                                           for s in self.sites)

    # eq. 53 (F_synth kept apart: FlopCounterMode does not count element-wise work)
    @property
    def pred_flops(self) -> int:
        return self.flops - sum(s.flops - s.layer_flops for s in self.sites)

    @property
    def synthesis_flops(self) -> int:
        return sum(s.synthesis_flops for s in self.sites)

    @property
    def pred_train_flops(self) -> Optional[int]:
        if self.train_flops is None:
            return None
        return self.train_flops - sum(s.train_flops_delta for s in self.sites)

    # eq. 58 (M_aux kept apart)
    @property
    def pred_activation(self) -> int:
        return self.activation - sum(s.saved_delta for s in self.sites)

    @property
    def pred_aux(self) -> int:
        return sum(s.layer_synthesis for s in self.sites)

    # step time, eq. 53 structure with measured local step times
    @property
    def pred_time(self) -> Optional[float]:
        if self.time is None or any(s.time is None for s in self.sites):
            return None
        return self.time - sum(s.time - s.layer_time for s in self.sites)

    @property
    def synthesis_time(self) -> Optional[float]:
        if any(s.synthesis_time is None for s in self.sites):
            return None
        return sum(s.synthesis_time for s in self.sites)

    def ratios(self) -> Dict[str, Optional[float]]:
        """Predicted RepL / E2E ratios."""
        def r(a, b):
            return None if a is None or not b else a / b
        return {'params': r(self.pred_params, self.params),
                'trainable_params': r(self.pred_trainable_params, self.trainable_params),
                'flops': r(self.pred_flops, self.flops),
                'train_flops': r(self.pred_train_flops, self.train_flops),
                'activation': r(self.pred_activation, self.activation),
                'time': (self.time_ratio if self.time_ratio is not None
                         else r(self.pred_time, self.time))}

    def homogeneous(self, num_blocks: Optional[int] = None) -> Dict[str, Optional[float]]:
        """The homogeneous-block approximations eq. 52 and eq. 55 with this plan's mean
        ``a/P`` and ``eta``: with ``R/N = 1/K`` as the paper assumes (``K`` = interval), and,
        if ``num_blocks`` (``N``) is given, with this plan's actual fraction ``R/N``."""
        out = {'params_eq52': None, 'flops_eq55': None,
               'params_eq52_plan': None, 'flops_eq55_plan': None}
        if not self.sites:
            return out
        n = len(self.sites)
        a = sum(s.layer_params for s in self.sites) / n
        p = sum(s.params for s in self.sites) / n
        eta = sum(s.eta for s in self.sites) / n
        if self.interval:
            out['params_eq52'] = param_ratio_eq52(self.interval, a, p)
            out['flops_eq55'] = flop_ratio_eq55(self.interval, eta)
        if num_blocks:
            k = num_blocks / n  # R/N = 1/k
            out['params_eq52_plan'] = param_ratio_eq52(k, a, p)
            out['flops_eq55_plan'] = flop_ratio_eq55(k, eta)
        return out

    def as_dict(self) -> Dict[str, Any]:
        d = {k: getattr(self, k) for k in (
            'plan', 'params', 'trainable_params', 'flops', 'train_flops', 'activation',
            'time', 'interval', 'num_blocks', 'pred_params', 'pred_trainable_params', 'pred_flops',
            'synthesis_flops', 'pred_train_flops', 'pred_activation', 'pred_aux', 'pred_time',
            'synthesis_time', 'notes')}
        d['ratios'] = self.ratios()
        d['homogeneous'] = self.homogeneous(self.num_blocks)
        d['sites'] = [dict(asdict(s), eta=s.eta) for s in self.sites]
        return d


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
