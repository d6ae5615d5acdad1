"""Feeding computing layers their neighbours: the execution rule of eq. 17, written once.

``x <- f_{r-1}(x);  x <- g_r(x; theta_{r-1}, theta_{r+1});  x <- f_{r+1}(x)``

Every owner of a sequence of blocks -- :class:`~repl_mm.core.stage.RepLStage` (ResNets), the
ViT-RepL forward loop, the RepL language model -- runs its blocks through
:func:`forward_layer` and folds them with :func:`fold_layers`, so the computing layers never
hold references to their neighbours.
"""
from typing import Sequence

from torch import Tensor, nn

from .layer import ComputingLayer, is_training_layer

__all__ = ['forward_layer', 'fold_layers', 'check_layer_positions']


def forward_layer(layers: Sequence[nn.Module], i: int, x: Tensor) -> Tensor:
    """Runs block ``i`` of ``layers`` on ``x`` (eq. 17).

    A training-form computing layer is called as ``layers[i](x, layers[i - 1], layers[i + 1])``,
    every other module as ``layers[i](x)``.

    Args:
        layers (Sequence[nn.Module]): the blocks in execution order (a list, not a generator:
            the neighbours are looked up by index).
        i (int): the block to run.
        x (Tensor): the input of block ``i`` (the output of block ``i - 1``).
    """
    layer = layers[i]
    if is_training_layer(layer):
        return layer(x, layers[i - 1], layers[i + 1])
    return layer(x)


def fold_layers(layers: Sequence[nn.Module]) -> int:
    """Folds every computing layer of ``layers`` into its deploy form (eq. 32-33) with its
    neighbours; returns how many were folded (layers already in deploy form are skipped)."""
    folded = 0
    for i, layer in enumerate(layers):
        if is_training_layer(layer):
            layer.fold(layers[i - 1], layers[i + 1])
            folded += 1
    return folded


def check_layer_positions(layers: Sequence[nn.Module]) -> None:
    """Checks that every computing layer has a retained (non-computing) block on each side.

    Raises:
        ValueError: naming the position of the first computing layer that does not.
    """
    n = len(layers)
    for i, m in enumerate(layers):
        if isinstance(m, ComputingLayer) and (
                i == 0 or i == n - 1 or isinstance(layers[i - 1], ComputingLayer)
                or isinstance(layers[i + 1], ComputingLayer)):
            raise ValueError(f'computing layer at position {i} of a sequence of {n} blocks '
                             'needs a retained block on each side')
