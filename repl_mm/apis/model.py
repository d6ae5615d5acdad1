"""Build a model from its config and load a checkpoint into it, for users."""
import os
from typing import Optional, Union

import torch
from torch import nn

from ..deploy.fold import build_model_from_config, load_deploy_model, switch_model_to_deploy
from ..utils.config import config_path

__all__ = ['init_model']


def init_model(config: Union[str, os.PathLike], checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu', cfg_options: Optional[dict] = None,
               deploy: bool = False) -> nn.Module:
    """Builds the model of an mmdet / mmseg / mmpretrain config (its ``default_scope``'s
    registry, RepL types registered) and loads ``checkpoint`` into it.

    ``checkpoint`` may be a RepL training checkpoint or its deploy checkpoint
    (``tools/model_converters/reparameterize_model.py``): a deploy checkpoint switches the
    backbone to the deploy form (eq. 32-33) before it loads, so the training config serves
    both. The file is read with ``weights_only=True`` (:mod:`repl_mm.engine.fileio`), loaded
    strictly (a missing or unexpected key is refused, naming it), an Adaptive-RepL checkpoint
    must carry its mask, and a deploy checkpoint must match the plan it records.

    Args:
        config (str | PathLike): the config file, or ``repl_mm::<name>.py``.
        checkpoint (str, optional): a local checkpoint file. None: the weights are those of
            ``model.init_weights()`` with the backbone's ``init_cfg`` dropped (nothing is
            downloaded).
        device (str | torch.device): where the model is put (``'cpu'``, ``'cuda:0'``).
        cfg_options (dict, optional): ``key.sub=value`` config overrides.
        deploy (bool): return the deploy form (computing layers folded, eq. 32-33).

    Returns:
        nn.Module: the model in eval mode, with ``model.cfg`` (the config) and, where the
        checkpoint records it, ``model.dataset_meta`` (class names).

    Raises:
        ValueError: a bad ``config`` / ``device``, an unreadable checkpoint, one of another
            architecture or of a form the config cannot take (the message names the file, the
            keys and the fix); ``deploy=True`` for a model without a RepL backbone.
    """
    config = config_path(os.fspath(config))
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda:0', got "
                         f'{device!r} ({e})') from None
    if checkpoint is None:
        model, cfg = build_model_from_config(config, cfg_options)
        model.init_weights()
    else:
        model, cfg = load_deploy_model(config, os.fspath(checkpoint), cfg_options,
                                       to_deploy=False)
    backbone = getattr(model, 'backbone', model)
    if deploy and not getattr(backbone, 'deploy', False):
        switch_model_to_deploy(model)
    model.cfg = cfg
    return model.to(device).eval()
