"""One mmengine training step of a toolbox model under the counters (the detection demo, the
training-cost measurement of evidence and frontier): trainable parameters (eq. 42), a timed
step, the bytes it saves for backward (eq. 58)."""
from typing import Any, Callable, Dict

import torch
from torch import nn

from .counters import (
    SavedBytes,
    count_saved_bytes,
    num_params,
)

__all__ = ['trainable_params', 'train_step_fn', 'train_step_saved_bytes']


def trainable_params(model: nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (each shared parameter once, eq. 42)."""
    return num_params(model, trainable=True)


def _mm_loss(model: nn.Module, data_batch: Dict[str, Any]) -> torch.Tensor:
    data = model.data_preprocessor(data_batch, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    return loss


def train_step_fn(model: nn.Module, data_batch: Dict[str, Any],
                  optimizer: torch.optim.Optimizer) -> Callable[[], float]:
    """A closure running one full training step of ``model`` on ``data_batch`` (forward, loss,
    backward, ``optimizer.step()``) and returning the loss, for timing."""
    model.train()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = _mm_loss(model, data_batch)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def train_step_saved_bytes(model: nn.Module, data_batch: Dict[str, Any]) -> SavedBytes:
    """What one mmengine training step of ``model`` saves for backward (eq. 58).

    Runs ``data_preprocessor(batch, training=True)``, ``model(..., mode='loss')`` and
    ``parse_losses`` in train mode on ``data_batch`` (a collated batch of the model's train
    dataloader), as ``BaseModel.train_step`` does, without the optimizer step.

    Returns:
        SavedBytes: ``.total`` is the activation memory of the step (activations plus the
        synthesized operators of the computing layers); parameters are excluded.
    """
    model.train()
    return count_saved_bytes(lambda: _mm_loss(model, data_batch), model)
