"""Synthetic training batches for a toolbox model: random normalised images and matching ground
truth, so that ``model.loss`` runs without a dataset (the benchmarks of
:mod:`repl_mm.analysis` and the tests; ``repl_mm.testing`` re-exports it)."""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from .toolbox import TOOLBOX_SCOPES, get_toolbox

__all__ = ['SCOPES', 'synthetic_batch']

#: The toolbox scopes :func:`synthetic_batch` makes ground truth for.
SCOPES = tuple(TOOLBOX_SCOPES)


def synthetic_batch(model: nn.Module, scope: str, batch_size: int, input_size: Sequence[int],
                    device, dtype: torch.dtype = torch.float32, seed: int = 0
                    ) -> Tuple[Tensor, List]:
    """Random normalised images and matching ground truth for ``model.loss``: class labels
    (mmpretrain), boxes + labels + image metas (mmdet), label maps (mmseg), made by the
    toolbox's descriptor (:meth:`repl_mm.adapters.Toolbox.make_batch`).

    Args:
        model (nn.Module): the toolbox model (its head gives the number of classes).
        scope (str): ``'mmpretrain'``, ``'mmdet'`` or ``'mmseg'``.
        batch_size (int): number of images.
        input_size (Sequence[int]): ``(H, W)``.
        device: where the tensors go.
        dtype: dtype of the images.
        seed (int): seed of the generator (images and ground truth follow from it).

    Returns:
        tuple: the ``(batch_size, 3, H, W)`` images and the list of data samples.
    """
    return get_toolbox(scope).make_batch(model, batch_size, tuple(input_size), device, dtype,
                                         seed)
