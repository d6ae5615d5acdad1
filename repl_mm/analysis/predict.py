"""The plan prediction of ``tools/analysis_tools/plan.py``: which blocks a RepL config removes
and what that saves, predicted from the E2E model alone (eq. 42, 53, 55, 58), before any
training (meta device)."""
from typing import Any, Dict, Optional

import torch
from torch import nn

from ..adapters.batches import synthetic_batch
from . import cost_model as cost
from .benchmark_models import _check_fixed_plan, _loss_fn, measure_step
from .blocks import backbone_stages, block_kind
from .counters import (
    FusedAttentionOnMeta,
    num_params,
)
from .sites import capture_block_inputs, site_costs
from .specs import ModelSpec, build_model, e2e_twin

__all__ = ['ConfigBuildError', 'build_from_config_alone', 'predict_plan']


class ConfigBuildError(ValueError):
    """The model of a config cannot be built from the config alone (one line: the config,
    what is missing and the fix)."""


def build_from_config_alone(spec: ModelSpec) -> nn.Module:
    """:func:`build_model`, turning any build failure into one :class:`ConfigBuildError`
    line naming the config and the missing piece (a data file the model reads, an unknown
    type, a bad argument)."""
    try:
        return build_model(spec)
    except Exception as e:  # registries wrap the builder's errors in their own types
        msg = ' '.join(str(e).split()) or type(e).__name__
        hint = ('; the model reads that file to size itself: give the size in the config '
                'instead (e.g. model.vocab_size=V with model.vocab_from=None) or make the file '
                'reachable' if isinstance(e, FileNotFoundError) else '')
        raise ConfigBuildError(f'{spec.source}: the model cannot be built from the config: '
                               f'{type(e).__name__}: {msg[:400]}{hint}') from None


def predict_plan(repl: ModelSpec, e2e: Optional[ModelSpec] = None, batch_size: int = 1,
                 scope: str = 'backbone', device='meta') -> Dict[str, Any]:
    """Which blocks ``repl`` removes and what that saves, predicted from the E2E model alone
    (eq. 42, 53, 55, 58): nothing of the RepL model is run except its computing layers
    inside their local triples.

    Args:
        repl (ModelSpec): the RepL model.
        e2e (ModelSpec, optional): its E2E twin (default: :func:`e2e_twin`).
        batch_size (int): batch of the activation-memory and FLOP predictions.
        scope (str): ``'backbone'`` or ``'model'`` (the whole model with its loss; needs a
            real device, the meta device cannot run detection losses).
        device: ``'meta'`` (default: shapes only, no computation) or a real device.

    Returns:
        dict: ``cost`` (:meth:`CostModel.as_dict`), ``blocks`` (names per stage), plan info.
    """
    if scope not in ('backbone', 'model'):
        raise ValueError(f"scope must be 'backbone' or 'model', got {scope!r}")
    device = torch.device(device)
    if scope == 'model' and device.type == 'meta':
        raise ValueError("scope='model' runs the loss, which the meta device cannot: "
                         "pass device='cpu'")
    e2e = e2e or e2e_twin(repl)
    e2e_model, repl_model = build_from_config_alone(e2e), build_from_config_alone(repl)
    rb = repl_model.backbone
    _check_fixed_plan(repl, rb)
    module = e2e_model.backbone if scope == 'backbone' else e2e_model
    params, trainable = num_params(module), num_params(module, True)
    e2e_model.to(device).train()
    x, samples = synthetic_batch(e2e_model, repl.scope, batch_size, repl.input_size,
                                 'cpu' if device.type == 'meta' else device)
    x = x.to(device)
    loss_fn = _loss_fn(e2e_model, scope, x, samples)
    with FusedAttentionOnMeta():
        block_inputs = capture_block_inputs(e2e_model.backbone, loss_fn)
        e2e_model.zero_grad(set_to_none=True)
        step = measure_step(e2e_model, loss_fn)
    sites = site_costs(e2e_model.backbone, rb, block_inputs, device='meta')
    used_interval = (None if getattr(rb, 'replace_blocks', None) is not None
                     else getattr(rb, 'interval', None))   # an explicit plan has no K
    cm = cost.CostModel(sites, rb.removal_plan, params, trainable, step['flops'],
                        step['activation'], train_flops=step['train_flops'],
                        interval=used_interval)
    stages = backbone_stages(e2e_model.backbone)
    cm.num_blocks = sum(len(st) for st in stages)
    kinds = sorted({block_kind(m) for st in stages for _, m in st.values()})
    tokens = None
    if kinds == ['vit']:
        tokens = block_inputs[stages[0][0][0]]
    return dict(repl=repl.source, e2e=e2e.source, scope=scope, batch_size=batch_size,
                input_size=list(repl.input_size), device=str(device),
                interval=used_interval,
                replace_blocks=getattr(rb, 'replace_blocks', None),
                blocks=[[name for name, _ in st.values()] for st in stages], kinds=kinds,
                tokens=None if tokens is None else list(tokens), cost=cm.as_dict())
