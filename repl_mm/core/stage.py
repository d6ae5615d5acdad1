"""RepLStage: a residual stage with some blocks replaced by computing layers (eq. 17).

The stage keeps the child names of the stock stage (``'0'``, ``'1'``, ...), so retained
blocks keep their state_dict keys (``layer3.2.conv1.weight``) and a removed block's key
prefix (``layer3.3.``) now holds its computing layer's few parameters. A stock checkpoint
therefore loads into a RepL backbone with only the removed blocks' keys unexpected.

The stage runs its blocks through :func:`~repl_mm.core.neighbours.forward_layer`, which passes
each computing layer its two retained neighbours at forward time; the computing layer holds
no reference to them, so ``state_dict``, ``deepcopy``, DDP and checkpointing see an ordinary
module tree.

``RepLStage`` is an mmengine ``Sequential`` (a ``BaseModule``), like the stock stages (mmdet's
and mmseg's ``ResLayer``), so mmengine's ``init_weights`` recursion still reaches every
retained block and runs its own ``init_cfg`` and ``init_weights`` as in the stock backbone
(mmdet/mmseg ``zero_init_residual`` is a ``Constant 0`` ``init_cfg`` on each block's
``norm2``/``norm3``), and each computing layer's ``init_weights`` (issue 27). A plain
``nn.Sequential`` has no ``init_weights``, so the recursion stopped at it.
"""
from typing import Iterator, Optional, Tuple

from mmengine.model import Sequential
from torch import Tensor, nn

from .layer import ComputingLayer
from .neighbours import check_layer_positions, fold_layers, forward_layer

__all__ = ['RepLStage', 'computing_layers']


def computing_layers(module: nn.Module) -> Iterator[Tuple[str, ComputingLayer]]:
    """Yields ``(name, layer)`` for every computing layer (CNN or transformer) under
    ``module``."""
    for name, m in module.named_modules():
        if isinstance(m, ComputingLayer):
            yield name, m


class RepLStage(Sequential):
    """An mmengine ``Sequential`` of blocks whose forward feeds computing layers their
    neighbours.

    Execution follows eq. 17: ``x <- f_{r-1}(x); x <- g_r(x; theta_{r-1}, theta_{r+1});
    x <- f_{r+1}(x)``. A computing layer is never first or last (checked at construction).

    Args:
        *blocks: the blocks (or one ``OrderedDict`` of them, stock child names).
        init_cfg (dict, optional): the replaced stock stage's ``init_cfg`` (None in every
            mm ResNet).
    """

    def __init__(self, *blocks: nn.Module, init_cfg: Optional[dict] = None) -> None:
        super().__init__(*blocks, init_cfg=init_cfg)
        check_layer_positions(list(self))

    def forward(self, x: Tensor) -> Tensor:
        layers = list(self._modules.values())
        for i in range(len(layers)):
            x = forward_layer(layers, i, x)
        return x

    def switch_to_deploy(self) -> None:
        """Folds every computing layer of the stage into its static deploy form (eq. 32)."""
        fold_layers(list(self._modules.values()))
