"""RepLStage: a residual stage with some blocks replaced by computing layers (eq. 17).

The stage keeps the child names of the stock stage (``'0'``, ``'1'``, ...), so retained
blocks keep their state_dict keys (``layer3.2.conv1.weight``) and a removed block's key
prefix (``layer3.3.``) now holds its computing layer's few parameters. A stock checkpoint
therefore loads into a RepL backbone with only the removed blocks' keys unexpected.

The stage passes each computing layer its two retained neighbours at forward time; the
computing layer holds no reference to them, so ``state_dict``, ``deepcopy``, DDP and
checkpointing see an ordinary module tree.
"""
from torch import Tensor, nn

from .cnn import ComputingLayer

__all__ = ['RepLStage', 'computing_layers']


def computing_layers(module: nn.Module):
    """Yields ``(name, layer)`` for every :class:`ComputingLayer` under ``module``."""
    for name, m in module.named_modules():
        if isinstance(m, ComputingLayer):
            yield name, m


class RepLStage(nn.Sequential):
    """An ``nn.Sequential`` of blocks whose forward feeds computing layers their neighbours.

    Execution follows eq. 17: ``x <- f_{r-1}(x); x <- g_r(x; theta_{r-1}, theta_{r+1});
    x <- f_{r+1}(x)``. A computing layer is never first or last (checked at construction).
    """

    def __init__(self, *blocks: nn.Module) -> None:
        super().__init__(*blocks)
        mods = list(self)
        for i, m in enumerate(mods):
            if isinstance(m, ComputingLayer) and (
                    i == 0 or i == len(mods) - 1
                    or isinstance(mods[i - 1], ComputingLayer)
                    or isinstance(mods[i + 1], ComputingLayer)):
                raise ValueError(f'computing layer at position {i} of a stage of {len(mods)} '
                                 'needs a retained block on each side')

    def forward(self, x: Tensor) -> Tensor:
        mods = list(self._modules.values())
        for i, m in enumerate(mods):
            if isinstance(m, ComputingLayer) and not m.deploy:
                x = m(x, mods[i - 1], mods[i + 1])
            else:
                x = m(x)
        return x

    def switch_to_deploy(self) -> None:
        """Turns every computing layer of the stage into its static deploy form (eq. 32)."""
        mods = list(self._modules.values())
        for i, m in enumerate(mods):
            if isinstance(m, ComputingLayer):
                m.switch_to_deploy(mods[i - 1], mods[i + 1])
