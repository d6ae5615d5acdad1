"""Deploy re-parameterization of whole models (paper §IV-D1e, eq. 32-33).

Follows mmpretrain's ``tools/model_converters/reparameterize_model.py`` convention: build the
model from its config, load the trained checkpoint, call ``switch_to_deploy()`` on the
backbone, save. The deploy checkpoint is then used with ``model.backbone.deploy=True``.
"""
from typing import Optional

import torch
from torch import nn

__all__ = ['switch_model_to_deploy', 'reparameterize_checkpoint']


def switch_model_to_deploy(model: nn.Module) -> nn.Module:
    """Calls ``switch_to_deploy()`` on ``model.backbone`` (or on ``model`` itself).

    Raises:
        ValueError: if neither has ``switch_to_deploy`` (not a RepL model).
    """
    target = getattr(model, 'backbone', model)
    if not hasattr(target, 'switch_to_deploy'):
        raise ValueError(f'{type(target).__name__} has no switch_to_deploy(): the model must '
                         'have a RepL backbone (e.g. type=ResNetRepL or VisionTransformerRepL)')
    target.switch_to_deploy()
    return model


def reparameterize_checkpoint(config: str, src: str, dst: str,
                              cfg_options: Optional[dict] = None) -> nn.Module:
    """Builds ``config``'s model, loads ``src``, re-parameterizes it and saves ``dst``.

    The saved file holds only tensors (``{'state_dict': ..., 'meta': ...}``), so it loads
    with ``torch.load(weights_only=True)``.
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = cfg.model.copy()
    if model_cfg.get('backbone', {}).get('init_cfg') is not None:
        model_cfg.backbone.init_cfg = None   # weights come from src
    model = MODELS.build(model_cfg)
    load_checkpoint(model, src, map_location='cpu', strict=True)
    model.eval()
    switch_model_to_deploy(model)
    torch.save({'state_dict': model.state_dict(),
                'meta': {'repl_deploy': True, 'config': str(config), 'source': str(src)}}, dst)
    return model
