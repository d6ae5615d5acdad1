"""Computing layers for ResNet-style CNNs (paper §III-B, deploy form §IV-D1e).

A computing layer ``g_r`` sits where block ``r`` was removed. At training time it holds only
its synthesis coefficients and one BN (eq. 44, 47); the weights it convolves with are
synthesized at every forward pass from the two retained neighbours ``f_{r-1}`` and
``f_{r+1}``, which the owning :class:`~repl_mm.core.stage.RepLStage` passes in explicitly
(eq. 17, :func:`~repl_mm.core.neighbours.forward_layer`). ``fold(prev, next)`` precomputes the
operator once and folds the BN (eq. 32), after which the layer is a plain static module with
no reference to its neighbours (protocol: :class:`~repl_mm.core.layer.ComputingLayer`).
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import Tensor, nn

from .layer import ComputingLayer
from .synthesis import (
    SynthesisCoefficients,
    check_repl_options,
    normalize_rows,
    recompute_in_backward,
    stop_gradient,
    used_neighbours,
)

__all__ = ['ConvComputingLayer', 'BasicBlockComputingLayer', 'BottleneckComputingLayer',
           'fold_batchnorm', 'zero_norm']


def fold_batchnorm(weight: Tensor, norm: nn.Module,
                   bias: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Eq. 32: ``W * gamma / sqrt(var + eps)`` and ``gamma (b - mu) / sqrt(var + eps) + beta``.

    Args:
        weight (Tensor): conv kernel ``(C_out, ...)`` followed by ``norm``.
        norm (nn.Module): a BatchNorm (or SyncBatchNorm) with running statistics.
        bias (Tensor, optional): the conv bias ``b_hat`` (zero if None).
    """
    std = torch.sqrt(norm.running_var + norm.eps)
    gamma = norm.weight if norm.affine else torch.ones_like(std)
    beta = norm.bias if norm.affine else torch.zeros_like(std)
    scale = gamma / std
    b = -norm.running_mean if bias is None else bias - norm.running_mean
    return weight * scale.reshape(-1, *([1] * (weight.dim() - 1))), b * scale + beta


def zero_norm(norm: nn.Module) -> None:
    """``Constant(val=0)`` on a norm: weight and bias 0 (mmengine's ``constant_init``)."""
    with torch.no_grad():
        for name in ('weight', 'bias'):
            p = getattr(norm, name, None)
            if p is not None:
                p.zero_()


def _check_foldable(norm: nn.Module, norm_cfg: Optional[dict]) -> None:
    """Eq. 32 folds a BatchNorm's running statistics into the conv; a norm without them
    (GroupNorm, ...) normalises with each sample's statistics and cannot be folded."""
    if not isinstance(norm, nn.modules.batchnorm._BatchNorm):
        raise ValueError(
            f'norm_cfg={norm_cfg!r}: a computing layer with {type(norm).__name__} has no '
            'deploy form (eq. 32 folds BatchNorm running statistics; this norm uses each '
            "sample's). Allowed for deploy / switch_to_deploy: norm_cfg type 'BN' or "
            "'SyncBN'; the training form works with any norm")


def _build_norm(norm_cfg: Optional[dict], channels: int) -> nn.Module:
    if norm_cfg is None:
        return nn.BatchNorm2d(channels)
    from mmcv.cnn import build_norm_layer
    return build_norm_layer(norm_cfg, channels)[1]


class ConvComputingLayer(ComputingLayer):
    """Base class of the CNN computing layers: train-time synthesis and deploy duality
    (the protocol of :class:`~repl_mm.core.layer.ComputingLayer`).

    Subclasses define ``_synthesize(prev, next) -> dict`` (the operator theta_hat of eq. 5),
    ``_apply(x, op) -> Tensor`` (Phi_r of eq. 6, returning the residual branch before the
    final ReLU) and ``_deploy_modules()``.

    Args:
        channels (int): block input/output width ``C``.
        neighbours (str): which neighbours feed the synthesis: ``'both'``, ``'prev'``,
            ``'next'`` (Table VII).
        coefficients (str): ``'separate'`` alpha/beta or ``'shared'`` (Table XVI).
        stop_grad (bool): detach neighbour weights (eq. 30). Default True.
        norm_cfg (dict, optional): mmcv norm config of the layer's BN (e.g. SyncBN).
        drop_path (nn.Module, optional): stochastic-depth module of the removed block,
            applied to the residual branch.
        with_cp (bool): recompute the layer in backward (activation checkpointing).
        deploy (bool): build the static deploy form directly.
        eps (float): epsilon of the kernel normalisation (eq. 9).
        zero_init_norm (bool): :meth:`init_weights` sets the BN's weight and bias to 0, so the
            layer starts as the identity -- what the stock backbone's init does to the last
            norm of the block it replaces (mmdet/mmseg ``zero_init_residual``). Default False.
    """

    def __init__(self, channels: int, neighbours: str = 'both', coefficients: str = 'separate',
                 stop_grad: bool = True, norm_cfg: Optional[dict] = None,
                 drop_path: Optional[nn.Module] = None, with_cp: bool = False,
                 deploy: bool = False, eps: float = 1e-5, zero_init_norm: bool = False) -> None:
        super().__init__()
        check_repl_options(neighbours, coefficients, stop_grad=stop_grad, with_cp=with_cp,
                           deploy=deploy)
        self.channels = channels
        self.neighbours = neighbours
        self.coefficients = coefficients
        self.stop_grad = stop_grad
        self.with_cp = with_cp
        self.deploy = deploy
        self.eps = eps
        self.zero_init_norm = zero_init_norm
        self.drop_path = drop_path if drop_path is not None else nn.Identity()
        self._norm_cfg = norm_cfg
        if deploy:
            _check_foldable(_build_norm(norm_cfg, channels), norm_cfg)
            self._build_deploy_modules()
        else:
            self.synthesis = SynthesisCoefficients(self._num_groups(), neighbours, coefficients)
            self.norm = _build_norm(norm_cfg, channels)

    def init_weights(self) -> None:
        """Called by mmengine's ``init_weights`` recursion through the owning
        :class:`~repl_mm.core.stage.RepLStage`, after the backbone's own ``init_cfg``
        (Kaiming / Constant) ran, like the replaced block's ``init_cfg``: zeroes the BN's
        affine parameters when ``zero_init_norm`` (training form only)."""
        norm = getattr(self, 'norm', None)
        if self.zero_init_norm and not self.deploy and norm is not None:
            zero_norm(norm)

    # --- to be defined by subclasses -------------------------------------------------------
    def _num_groups(self) -> int:
        raise NotImplementedError

    def weight_sources(self) -> Dict[str, Tuple[str, str]]:
        """``{role: (neighbour, conv)}``: which neighbour weight each role of the synthesis
        reads, e.g. ``{'prev': ('prev', 'conv2'), 'next': ('next', 'conv1')}`` for eq. 8."""
        raise NotImplementedError

    def _synthesize(self, w: Dict[str, Tensor]) -> Dict[str, Tensor]:
        raise NotImplementedError

    def _branch(self, x: Tensor, op: Dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def _build_deploy_modules(self) -> None:
        raise NotImplementedError

    def _deploy_branch(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _load_deploy(self, op: Dict[str, Tensor]) -> None:
        raise NotImplementedError

    # --- shared mechanics ------------------------------------------------------------------
    def _sg(self, w: Tensor) -> Tensor:
        return stop_gradient(w, self.stop_grad)

    def _normalized(self, w: Optional[Tensor]) -> Optional[Tensor]:
        return None if w is None else normalize_rows(w, self.eps)

    def synthesize(self, prev: nn.Module, next: nn.Module) -> Dict[str, Tensor]:
        """The synthesized operator theta_hat_r (eq. 5, 10, 13-14) from the neighbour blocks."""
        blocks = {'prev': prev, 'next': next}
        weights = {role: self._sg(getattr(blocks[side], conv).weight)
                   for role, (side, conv) in self.weight_sources().items()}
        return self._synthesize(weights)

    #: recompute the synthesis in backward (False for layers that own their operator)
    recompute_synthesis = True

    def _forward(self, x: Tensor, prev: Optional[nn.Module], next: Optional[nn.Module]) -> Tensor:
        if self.deploy:
            y = self._deploy_branch(x)
        else:
            op = (recompute_in_backward(self.synthesize, prev, next) if self.recompute_synthesis
                  else self.synthesize(prev, next))
            y = self.norm(self._branch(x, op))
        return F.relu(x + self.drop_path(y))

    def forward(self, x: Tensor, prev: Optional[nn.Module] = None,
                next: Optional[nn.Module] = None) -> Tensor:
        """``g_r(x) = ReLU(x + y_r)`` (eq. 11, 15).

        Args:
            x (Tensor): output of the left neighbour ``f_{r-1}``.
            prev (nn.Module): the retained left neighbour block (train form only).
            next (nn.Module): the retained right neighbour block (train form only).
        """
        self._require_neighbours(prev, next)
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, prev, next, use_reentrant=False)
        return self._forward(x, prev, next)

    @torch.no_grad()
    def fold(self, prev: nn.Module, next: nn.Module) -> None:
        """Precompute the synthesized kernels and fold the BN into the last conv (eq. 32).

        Afterwards the layer holds ordinary convolutions, no synthesis coefficients, no BN
        and no reference to its neighbours. Uses the BN running statistics, so the deploy
        layer equals the training form in eval mode.
        """
        if self.deploy:
            return
        _check_foldable(self.norm, self._norm_cfg)
        op = {k: v.detach().clone() for k, v in self.synthesize(prev, next).items()}
        self._fold_norm(op)
        dtype, device = self.norm.running_mean.dtype, self.norm.running_mean.device
        for name in ('synthesis', 'operator'):  # coefficients, or an own operator (core.own)
            if hasattr(self, name):
                delattr(self, name)
        del self.norm
        self.deploy = True
        self._build_deploy_modules()
        self.to(device=device, dtype=dtype)
        self._load_deploy(op)

    def _fold_norm(self, op: Dict[str, Tensor]) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, neighbours={self.neighbours!r}, '
                f'coefficients={self.coefficients!r}, stop_grad={self.stop_grad}, '
                f'deploy={self.deploy}')


class BasicBlockComputingLayer(ConvComputingLayer):
    """Computing layer replacing a BasicBlock (paper §III-B1).

    ``W_hat[c] = alpha_c * norm(W_{r-1,2})[c] + beta_c * norm(W_{r+1,1})[c]`` (eq. 8-10),
    ``y = BN(W_hat * x)``, ``g(x) = ReLU(x + y)`` (eq. 11). Trainable parameters:
    ``C`` alpha + ``C`` beta + ``2C`` BN affine = ``4C`` (eq. 44).

    With ``neighbours='prev'`` only ``W_{r-1,2}`` is used, with ``'next'`` only ``W_{r+1,1}``.

    Args:
        channels (int): ``C``.
        padding (int): padding of the 3x3 conv (the removed block's).
        dilation (int): dilation of the 3x3 conv (the removed block's).
        **kwargs: see :class:`ConvComputingLayer`.
    """

    def __init__(self, channels: int, padding: int = 1, dilation: int = 1, **kwargs) -> None:
        self.padding = padding
        self.dilation = dilation
        super().__init__(channels, **kwargs)

    def _num_groups(self) -> int:
        return self.channels

    def weight_sources(self):
        sources = {'prev': ('prev', 'conv2'), 'next': ('next', 'conv1')}   # eq. 8
        return {k: v for k, v in sources.items() if k in used_neighbours(self.neighbours)}

    def _synthesize(self, w):
        kernel = self.synthesis(self._normalized(w.get('prev')), self._normalized(w.get('next')),
                                dim=0)
        return {'kernel': kernel}

    def _branch(self, x, op):
        return F.conv2d(x, op['kernel'], None, 1, self.padding, self.dilation)

    def _fold_norm(self, op):
        op['kernel'], op['bias'] = fold_batchnorm(op['kernel'], self.norm)

    def _build_deploy_modules(self):
        self.conv = nn.Conv2d(self.channels, self.channels, 3, 1, self.padding, self.dilation,
                              bias=True)

    def _load_deploy(self, op):
        self.conv.weight.copy_(op['kernel'])
        self.conv.bias.copy_(op['bias'])

    def _deploy_branch(self, x):
        return self.conv(x)


class BottleneckComputingLayer(ConvComputingLayer):
    """Computing layer replacing a Bottleneck (paper §III-B2), exactly eq. 15::

        z1 = ReLU(W_red * x),   W_red = W_{r-1,1}                       (eq. 13)
        z2 = ReLU(W_hat * z1),  W_hat[c] = alpha_c norm(W_{r-1,2})[c]
                                         + beta_c norm(W_{r+1,2})[c]    (eq. 14)
        y  = BN(W_exp * z2),    W_exp = W_{r+1,3}
        g(x) = ReLU(x + y)

    The middle conv follows the neighbours' groups and the removed block's dilation.
    Trainable parameters: ``2B`` coefficients + ``2C`` BN affine (eq. 47). With
    ``neighbours='prev'`` all three weights come from ``f_{r-1}``, with ``'next'`` from
    ``f_{r+1}``.

    Args:
        channels (int): ``C``, the block input/output width.
        mid_channels (int): ``B``, the middle width.
        groups (int): groups of the middle conv.
        padding (int): padding of the middle conv.
        dilation (int): dilation of the middle conv.
        **kwargs: see :class:`ConvComputingLayer`.
    """

    def __init__(self, channels: int, mid_channels: int, groups: int = 1, padding: int = 1,
                 dilation: int = 1, **kwargs) -> None:
        self.mid_channels = mid_channels
        self.groups = groups
        self.padding = padding
        self.dilation = dilation
        super().__init__(channels, **kwargs)

    def _num_groups(self) -> int:
        return self.mid_channels

    def weight_sources(self):
        used = used_neighbours(self.neighbours)
        sources = {'red': (used[0], 'conv1'),                       # eq. 13
                   'exp': (used[-1], 'conv3')}
        sources.update({side: (side, 'conv2') for side in used})
        return sources

    def _synthesize(self, w):
        mid = self.synthesis(self._normalized(w.get('prev')), self._normalized(w.get('next')),
                             dim=0)                                         # eq. 14
        return {'red': w['red'], 'mid': mid, 'exp': w['exp']}

    def _branch(self, x, op):
        z = F.relu(F.conv2d(x, op['red']))
        z = F.relu(F.conv2d(z, op['mid'], None, 1, self.padding, self.dilation, self.groups))
        return F.conv2d(z, op['exp'])

    def _fold_norm(self, op):
        op['exp'], op['bias'] = fold_batchnorm(op['exp'], self.norm)

    def _build_deploy_modules(self):
        c, b = self.channels, self.mid_channels
        self.conv_red = nn.Conv2d(c, b, 1, bias=False)
        self.conv_mid = nn.Conv2d(b, b, 3, 1, self.padding, self.dilation, self.groups,
                                  bias=False)
        self.conv_exp = nn.Conv2d(b, c, 1, bias=True)

    def _load_deploy(self, op):
        self.conv_red.weight.copy_(op['red'])
        self.conv_mid.weight.copy_(op['mid'])
        self.conv_exp.weight.copy_(op['exp'])
        self.conv_exp.bias.copy_(op['bias'])

    def _deploy_branch(self, x):
        return self.conv_exp(F.relu(self.conv_mid(F.relu(self.conv_red(x)))))
