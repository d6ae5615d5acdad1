"""Stochastic depth as Huang et al. (2016) ran it, for the ResNets of Table IX (paper §IV-D1c).

Huang et al., "Deep Networks with Stochastic Depth" (ECCV 2016), eq. 2-4: residual block
``l`` of ``L`` survives a training mini-batch with probability

    p_l = 1 - (l / L) (1 - p_L)            (linear decay, p_L = 0.5 in the paper)

and, when dropped, is **not computed**: ``H_l = ReLU(id(H_{l-1}))`` with ``id`` the block's
shortcut (identity or its projection). At test time every block runs with its residual
branch scaled by its survival probability: ``H_l = ReLU(p_l f_l(H_{l-1}) + id(H_{l-1}))``.
The decision is one Bernoulli draw per block and mini-batch (the whole batch drops the
branch), unlike mmpretrain's ``drop_path_rate`` (per-sample DropPath), which computes every
branch and masks samples -- so only this form saves time.

:func:`apply_stochastic_depth` turns the blocks of a built ResNet-style backbone into their
stochastic-depth form in place: each block's class is swapped for a subclass whose
``forward`` draws the decision first (:class:`StochasticDepthBlock`), and the eval scaling
is a forward hook on the branch's last norm (``norm2`` / ``norm3``). Parameter names,
state-dict keys, checkpoints and the stage modules (``nn.Sequential``, ``RepLStage``,
adaptive stages) are untouched.

RepL: ``l`` and ``L`` count the blocks of the original network, so a retained block keeps
the survival probability of its original depth; the computing layers are never dropped
(they replace a block already and hold no weights of their own to regularise).

Multi-process training: the draws come from torch's CPU generator, which mmengine seeds
alike on every rank (``randomness.diff_rank_seed=False``, the default), so all ranks drop
the same blocks; DDP still needs ``find_unused_parameters=True`` (a dropped block gets no
gradient).
"""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['StochasticDepthBlock', 'survival_probabilities', 'apply_stochastic_depth',
           'check_stochastic_depth', 'STOCHASTIC_DEPTH_ARGS_DOC']


def survival_probabilities(num_blocks: int, p_last: float) -> List[float]:
    """``p_l = 1 - (l / L)(1 - p_L)`` for ``l = 1 .. L`` (Huang et al. eq. 4).

    Args:
        num_blocks (int): ``L``, residual blocks of the whole network.
        p_last (float): ``p_L``, survival probability of the last block, in ``(0, 1]``.
    """
    return [1 - (depth / num_blocks) * (1 - p_last) for depth in range(1, num_blocks + 1)]


def check_stochastic_depth(stochastic_depth: Optional[dict]) -> Optional[float]:
    """Validates the ``stochastic_depth`` backbone argument; returns ``p_last`` (or None).

    Raises:
        ValueError: not None / a dict with exactly ``p_last`` in ``(0, 1]``.
    """
    if stochastic_depth is None:
        return None
    if not isinstance(stochastic_depth, dict) or set(stochastic_depth) != {'p_last'}:
        raise ValueError('stochastic_depth must be None or dict(p_last=P) with P the survival '
                         'probability of the last block in (0, 1] (Huang et al.: 0.5), got '
                         f'{stochastic_depth!r}')
    p = stochastic_depth['p_last']
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f'stochastic_depth.p_last must be a number in (0, 1], got {p!r}')
    return float(p)


class _ScaleInEval:
    """Forward hook of a block's last norm: ``p_l`` times its output when the **block** is in
    eval mode.

    The block's own training flag decides, not the norm's: with ``norm_eval=True`` (or a
    frozen BN) the norms stay in eval mode while the blocks train, and Huang et al. train the
    surviving branches unscaled (eq. 3, ``b_l = 1``) and scale them by ``p_l`` only at test
    (eq. 5). :meth:`StochasticDepthBlock.forward` records its mode on the norm
    (``sd_block_training``) before running the branch; a norm called outside its block (no
    record) falls back to its own flag.
    """

    def __init__(self, survival: float) -> None:
        self.survival = survival

    def __call__(self, module: nn.Module, args, output: Tensor) -> Optional[Tensor]:
        training = getattr(module, 'sd_block_training', module.training)
        return None if training else output * self.survival


class StochasticDepthBlock:
    """Mixin put in front of a residual block's class by :func:`apply_stochastic_depth`.

    Attributes set on the block: ``sd_survival`` (``p_l``) and ``sd_index`` (``l``,
    1-based).
    """

    sd_survival: float = 1.0
    sd_index: int = 0
    sd_norm_name: str = ''

    def sd_dropped(self) -> bool:
        """One Bernoulli(``1 - p_l``) draw for this mini-batch (training only)."""
        if not self.training or self.sd_survival >= 1:
            return False
        return bool(torch.rand(()) >= self.sd_survival)

    def forward(self, x: Tensor) -> Tensor:
        if self.sd_dropped():   # Huang et al. eq. 3 with b_l = 0: the branch is not computed
            shortcut = x if self.downsample is None else self.downsample(x)
            return F.relu(shortcut)
        if self.sd_norm_name:  # the eval scaling keys on this block's mode (_ScaleInEval)
            getattr(self, self.sd_norm_name).sd_block_training = self.training
        return super().forward(x)


_SD_CLASSES: Dict[type, type] = {}


def _sd_class(cls: type) -> type:
    """The stochastic-depth subclass of a block class (one per class, importable by name)."""
    if issubclass(cls, StochasticDepthBlock):
        return cls
    if cls not in _SD_CLASSES:
        name = f"{cls.__module__.replace('.', '_')}_{cls.__name__}_SD"
        sub = type(name, (StochasticDepthBlock, cls), {'__module__': __name__})
        sub.__qualname__ = name
        globals()[name] = sub   # picklable as repl_mm.models.stochastic_depth.<name>
        _SD_CLASSES[cls] = sub
    return _SD_CLASSES[cls]


def _last_norm(block: nn.Module) -> str:
    """The name of the last module of the residual branch: ``norm3`` (Bottleneck) or
    ``norm2``."""
    plugins = getattr(block, 'after_conv3_plugin_names', None)
    if plugins:
        raise ValueError(f'stochastic_depth: {type(block).__name__} has plugins after conv3 '
                         f'({plugins}); the eval scaling of its residual branch would not be '
                         'exact: use stochastic_depth without plugins')
    for name in ('norm3', 'norm2'):
        norm = getattr(block, name, None)
        if isinstance(norm, nn.Module):
            return name
    raise ValueError(f'stochastic_depth: {type(block).__name__} has neither norm3 nor norm2: '
                     'not a ResNet BasicBlock / Bottleneck')


def _original_length(stage: nn.Module) -> int:
    """Blocks of the stage in the original network (a RepL stage may miss removed ones)."""
    names = [int(n) for n in stage._modules if n.isdigit()]
    return max(names) + 1 if names else 0


def apply_stochastic_depth(backbone: nn.Module, p_last: float) -> List[float]:
    """Gives every residual block of ``backbone`` (``res_layers``) Huang et al.'s stochastic
    depth with linear decay to ``p_last``; computing layers stay always on.

    Args:
        backbone (nn.Module): a built ResNet-style backbone (E2E, RepL or adaptive RepL).
        p_last (float): survival probability of the last block, in ``(0, 1]``.

    Returns:
        list[float]: ``p_l`` for every original block ``l = 1 .. L``.
    """
    check_stochastic_depth(dict(p_last=p_last))
    stages = [getattr(backbone, name) for name in backbone.res_layers]
    lengths = [_original_length(st) for st in stages]
    probs = survival_probabilities(sum(lengths), p_last)
    offset = 0
    for stage, length in zip(stages, lengths):
        for name, block in stage._modules.items():
            if not name.isdigit() or not hasattr(block, 'downsample'):
                continue  # computing layers (no shortcut module) and non-block children
            depth = offset + int(name) + 1   # l of Huang et al., 1-based over the network
            norm_name = _last_norm(block)
            block.__class__ = _sd_class(type(block))
            block.sd_index, block.sd_survival = depth, probs[depth - 1]
            block.sd_norm_name = norm_name
            getattr(block, norm_name).register_forward_hook(_ScaleInEval(block.sd_survival))
        offset += length
    return probs


#: ``Args:`` text of the ``stochastic_depth`` argument of the ResNet backbones.
STOCHASTIC_DEPTH_ARGS_DOC = """\
        stochastic_depth (dict, optional): ``dict(p_last=0.5)``: stochastic depth as Huang
            et al. (2016) ran it (Table IX): block ``l`` of ``L`` survives a mini-batch with
            ``p_l = 1 - (l / L)(1 - p_last)``, a dropped residual branch is not computed, eval
            scales each branch by ``p_l`` (:mod:`repl_mm.models.stochastic_depth`; computing
            layers are never dropped). Default None.
"""
