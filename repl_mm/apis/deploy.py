"""Deploy re-parameterization for users (eq. 32-33): of a model in memory, of a checkpoint."""
from typing import Optional, Sequence

from torch import nn

from ..deploy.fold import ReparamResult, reparameterize_checkpoint, switch_model_to_deploy
from ..utils.config import config_path

__all__ = ['switch_to_deploy', 'reparameterize']


def switch_to_deploy(model: nn.Module) -> nn.Module:
    """Folds every computing layer of ``model``'s RepL backbone into a plain layer (eq. 32-33)
    in place and returns ``model``.

    Raises:
        ValueError: the model has no RepL backbone (no ``switch_to_deploy()``).
    """
    return switch_model_to_deploy(model)


def reparameterize(config: str, checkpoint: str, out: str, cfg_options: Optional[dict] = None,
                   force: bool = False, input_size: Optional[Sequence[int]] = None,
                   tolerance: float = 1e-4) -> ReparamResult:
    """Writes the deploy checkpoint ``out`` of the training checkpoint ``checkpoint``: the
    model as trained and its deploy form must agree on a random input within ``tolerance``
    (max relative difference), else nothing is written; ``checkpoint`` is never overwritten
    and an existing ``out`` only with ``force``
    (:func:`repl_mm.deploy.fold.reparameterize_checkpoint`).

    Args:
        config (str): the training config (a file or ``repl_mm::<name>.py``).

    Returns:
        ReparamResult: ``dst``, ``max_rel_diff``, ``input_shape``, ``meta``, ``model``.
    """
    return reparameterize_checkpoint(config_path(config), checkpoint, out, cfg_options=cfg_options,
                                     force=force, input_size=input_size, tolerance=tolerance)
