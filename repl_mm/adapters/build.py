"""The one way repl_mm builds a model (or backbone) dict: in its toolbox's ``MODELS`` registry,
under that toolbox's default scope (so nested types such as a detector's ``TASK_UTILS``
resolve in the same toolbox), on the CPU or, shapes only, on the meta device.

Every "build this config's model" of the package goes through :func:`build_in_scope`
(``repl_mm.apis.init_model``, ``repl_mm.deploy.fold.build_model_from_config``, the checkpoint
converter, the analysis specs, the fraction search, the training-cost measurement, the config
tests).
"""
from typing import Any, Mapping, Optional

import torch
from torch import nn

from .toolbox import get_toolbox

__all__ = ['build_in_scope']


def build_in_scope(model_cfg: Mapping[str, Any], scope: str,
                   device: Optional[str] = None) -> nn.Module:
    """Builds ``model_cfg`` in ``scope``'s ``MODELS`` registry with ``scope`` as the default
    scope while building (the caller's default scope is left as it was).

    Args:
        model_cfg (Mapping): a model or backbone dict (``type=...``).
        scope (str): ``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``.
        device (str, optional): ``'meta'``: build on the meta device where the model allows
            it (shapes only, no memory: ImageNet ViTs), else on the CPU (mmpretrain's ResNet
            calls ``.item()`` while building, which the meta device refuses). ``None``: CPU.

    Raises:
        ValueError: ``scope`` is not a toolbox repl_mm serves or is not installed; ``device``
            is neither None nor ``'meta'``.
    """
    from mmengine.registry import DefaultScope
    if device not in (None, 'meta'):
        raise ValueError(f"device must be None (CPU) or 'meta', got {device!r}; move the "
                         'built model with .to(device)')
    registry = get_toolbox(scope).registry
    with DefaultScope.overwrite_default_scope(scope):
        if device == 'meta':
            try:
                with torch.device('meta'):
                    return registry.build(model_cfg)
            except RuntimeError as e:
                if 'meta' not in str(e):
                    raise
        return registry.build(model_cfg)
