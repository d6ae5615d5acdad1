"""The one protocol every computing layer follows, CNN and ViT alike (paper §III-A, eq. 5-6, 17).

A computing layer ``g_r`` sits where block ``r`` was removed. In its *training form* it owns
only its synthesis coefficients (and, for CNNs, one BN); at every forward pass it synthesizes
its operator ``theta_hat_r`` from the two retained neighbours ``f_{r-1}``, ``f_{r+1}`` (eq. 5)
and applies it to the left neighbour's output (eq. 6). The neighbours are *passed in* at
forward time by whoever owns the sequence of blocks (:mod:`repl_mm.core.neighbours`); the
layer keeps no reference to them, so ``state_dict``, ``deepcopy``, DDP and checkpointing see
an ordinary module tree.

In its *deploy form* (§IV-D1e, eq. 32-33) the operator is precomputed into ordinary
convolutions / linears and the layer no longer reads its neighbours.

The two forms are switched by:

* :meth:`ComputingLayer.fold` ``(prev, next)``: the re-parameterization itself, which needs
  the neighbours; called by :func:`~repl_mm.core.neighbours.fold_layers` for every layer of a
  stage or a transformer, i.e. by the owning backbone's ``switch_to_deploy()``;
* :meth:`ComputingLayer.switch_to_deploy` ``()``: the no-argument method of mmpretrain's
  RepVGG / MobileOne and timm's ``reparameterize`` convention. A generic walker that calls it
  on every module of ``model.modules()`` (parents first) reaches the owning backbone before
  the layer, so by then the layer is folded and the call does nothing. Called on a layer that
  is still in training form it raises, naming the fix: its neighbours are not known to it.
"""
from typing import Dict, Optional

from torch import Tensor, nn

__all__ = ['ComputingLayer', 'is_training_layer']


class ComputingLayer(nn.Module):
    """Base class of every computing layer ``g_r`` (CNN: :mod:`repl_mm.core.cnn`, ViT and
    causal transformers: :mod:`repl_mm.core.vit`).

    Subclasses set ``self.deploy`` and implement :meth:`synthesize`, :meth:`forward` and
    :meth:`fold`.
    """

    deploy: bool = False

    def synthesize(self, prev: nn.Module, next: nn.Module) -> Dict[str, Tensor]:
        """The synthesized operator ``theta_hat_r`` (eq. 5) read from the neighbour blocks."""
        raise NotImplementedError

    def forward(self, x: Tensor, prev: Optional[nn.Module] = None,
                next: Optional[nn.Module] = None) -> Tensor:  # pragma: no cover - abstract
        """``g_r(x; theta_{r-1}, theta_{r+1})`` (eq. 6, 17); the neighbours are needed in the
        training form only."""
        raise NotImplementedError

    def fold(self, prev: nn.Module, next: nn.Module) -> None:
        """Re-parameterizes the layer into its static deploy form (eq. 32-33) using the
        neighbours' current weights; does nothing if already in deploy form."""
        raise NotImplementedError

    def switch_to_deploy(self) -> None:
        """No-argument form of the RepVGG convention (see the module docstring).

        Raises:
            RuntimeError: the layer is still in training form: its operator is synthesized
                from neighbours it does not hold.
        """
        if self.deploy:
            return
        raise RuntimeError(
            f'{type(self).__name__}.switch_to_deploy(): a training-form computing layer '
            'synthesizes its operator from its two retained neighbours, which it does not '
            'hold. Call switch_to_deploy() on the backbone (or RepLStage) that owns it, or '
            'layer.fold(prev, next) with the neighbour blocks')

    def _require_neighbours(self, prev: Optional[nn.Module], next: Optional[nn.Module]) -> None:
        if not self.deploy and (prev is None or next is None):
            raise ValueError(f'{type(self).__name__} in training form needs its neighbours: '
                             'call it as layer(x, prev, next) (repl_mm.core.neighbours.'
                             'forward_layer does)')


def is_training_layer(module: nn.Module) -> bool:
    """True for a computing layer in training form (one that reads its neighbours)."""
    return isinstance(module, ComputingLayer) and not module.deploy
