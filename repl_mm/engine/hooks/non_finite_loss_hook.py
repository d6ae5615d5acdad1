"""``NonFiniteLossHook``: stops training at the first NaN/inf loss term, before any checkpoint
of that iteration is written (mmdet's ``CheckInvalidLossHook`` checks every 50 iterations and
only the total loss). Registered in mmengine's ``HOOKS`` (the toolboxes' registries fall back to
it)."""
import math
from typing import Any, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['NonFiniteLossError', 'NonFiniteLossHook']


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; training was stopped."""


def _as_float(value: Any) -> Optional[float]:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        return float(value.detach().float().item())
    if isinstance(value, (int, float, np.floating, np.integer)):
        return float(value)
    return None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stops training when a logged loss term is NaN or infinite.

    Runs after every training iteration, before the ``CheckpointHook`` (priority
    ``VERY_HIGH``), on the terms the model's ``train_step`` returns (``loss`` and each
    ``loss_*``). It raises :class:`NonFiniteLossError` naming the iteration and every
    non-finite term, so ``tools/train.py`` exits non-zero, no checkpoint of the broken weights
    is written and no good checkpoint is rotated out.

    Turn it off in a config with
    ``custom_hooks = [dict(type='NonFiniteLossHook', enabled=False)]``.

    Args:
        enabled (bool): check the losses. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f'NonFiniteLossHook: enabled must be True or False, got '
                            f'{enabled!r}')
        self.enabled = enabled

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.enabled or not isinstance(outputs, dict):
            return
        values = {k: _as_float(v) for k, v in outputs.items()}
        values = {k: v for k, v in values.items() if v is not None}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        good = {k: v for k, v in values.items() if k not in bad}
        last = runner.message_hub.get_info('last_ckpt', None)
        terms = ', '.join(f'{k}={v}' for k, v in bad.items())
        finite = ', '.join(f'{k}={v:.6g}' for k, v in good.items()) or 'none'
        raise NonFiniteLossError(
            f'Non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
            f'{terms} (finite terms: {finite}). Training stopped; no checkpoint was written '
            f'for this iteration and the last good checkpoint is kept: {last or "none yet"}. '
            'Lower the learning rate, add gradient clipping (optim_wrapper.clip_grad) or check '
            "the data; to train on regardless, set custom_hooks=[dict(type='NonFiniteLossHook', "
            'enabled=False)].')
