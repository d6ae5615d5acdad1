"""Config helpers for tests: what a config changes against its parent, and building its model.

The ablation, Table IX and Adaptive-RepL configs each inherit the paper config they vary and
must change exactly the ablated keys; :func:`config_diff` is how their tests say so.
"""
from typing import Any, Dict, Mapping, Tuple

from torch import nn

from ..adapters import build_in_scope

__all__ = ['MISSING', 'flatten_config', 'config_diff', 'build_model']


class _Missing:
    """A key absent from one config (differs even from a ``None`` value)."""

    def __repr__(self) -> str:
        return 'MISSING'


MISSING = _Missing()


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def flatten_config(cfg: Mapping, prefix: str = '') -> Dict[str, Any]:
    """``{'model': {'backbone': {'depth': 32}}}`` -> ``{'model.backbone.depth': 32}``; lists
    are leaves (a pipeline is one value), tuples become lists (a config file's tuple and a
    ``--cfg-options`` list are the same setting)."""
    out: Dict[str, Any] = {}
    for k, v in cfg.items():
        if isinstance(v, Mapping):
            out.update(flatten_config(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = _norm(v)
    return out


def config_diff(parent: Mapping, child: Mapping) -> Dict[str, Tuple[Any, Any]]:
    """The settings that differ: ``{dotted key: (parent value, child value)}``, with
    :data:`MISSING` for a key only one of them has.

    Args:
        parent, child: configs (``mmengine.Config`` or plain dicts).
    """
    a = flatten_config(parent.to_dict() if hasattr(parent, 'to_dict') else parent)
    b = flatten_config(child.to_dict() if hasattr(child, 'to_dict') else child)
    return {k: (a.get(k, MISSING), b.get(k, MISSING)) for k in sorted(set(a) | set(b))
            if a.get(k, MISSING) != b.get(k, MISSING)}


def build_model(model_cfg: Mapping, scope: str = 'mmpretrain', meta: bool = True) -> nn.Module:
    """Builds ``model_cfg`` in ``scope``'s registry; with ``meta`` on the meta device where the
    model allows it (shapes only, no memory: ImageNet ViTs), else on the CPU (mmpretrain's
    ResNet calls ``.item()`` while building, which the meta device refuses)."""
    return build_in_scope(model_cfg, scope, device='meta' if meta else None)
