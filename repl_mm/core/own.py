"""Table VI "RepL (no weights)": computing layers that read **no** neighbour weights.

The paper (§IV-C4, Table VI) describes the row as "a variant that does not use adjacent
parameters" with "only an extra learnable mapping". Selected with ``neighbours='none'``, the
layer that replaces block ``r`` owns a learnable operator of exactly the shape RepL would
synthesize (eq. 5) and never reads ``f_{r-1}`` or ``f_{r+1}``:

* BasicBlock site (cf. eq. 8-11): ``y = BN(W * x)``, ``g(x) = ReLU(x + y)`` with its own
  ``W`` of shape ``(C, C, 3, 3)``;
* Bottleneck site (cf. eq. 13-15): ``ReLU(W_red * x)``, ``ReLU(W_mid * .)``, ``BN(W_exp * .)``
  with its own ``W_red``, ``W_mid``, ``W_exp``;
* transformer site (cf. eq. 20-27): its own attention projection ``(W, b)`` (with its own
  ``LN_1`` in the per-head form) and its own ``LN_2 -> fc1 -> GELU -> fc2``.

Everything else is the RepL layer's: the forward of eq. 11 / 15 / 21-27, the deploy form
and fold of eq. 32-33 (a CNN layer folds its BN; a transformer layer copies its operator),
the state-dict layout of the deploy form. Training-form keys are ``operator.<name>`` (plus
``norm.*`` for CNNs). Compared with RepL it has more parameters (the full operator instead
of ``4C`` / ``2B + 2C`` / ``2H`` coefficients) and no synthesis work; see docs/ablations.md.

The older reading of the row, ``coefficients='fixed'`` (alpha = beta = 1/2, still
synthesized from the neighbours), is kept as the separate "fixed coefficients" ablation.
"""
from typing import Dict

import torch
from torch import Tensor, nn

from .cnn import BasicBlockComputingLayer, BottleneckComputingLayer
from .vit import ViTBlockParts, ViTComputingLayer

__all__ = ['OwnOperatorMixin', 'OwnBasicBlockComputingLayer', 'OwnBottleneckComputingLayer',
           'OwnViTComputingLayer', 'NO_NEIGHBOURS', 'own_param_count']

#: the ``neighbours`` value that selects these layers
NO_NEIGHBOURS = 'none'


def _kaiming(shape) -> nn.Parameter:
    """A conv kernel initialised like mm ResNets' convs (Kaiming normal, fan_out, ReLU)."""
    w = torch.empty(shape)
    nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')
    return nn.Parameter(w)


def _trunc(shape) -> nn.Parameter:
    w = torch.empty(shape)
    nn.init.trunc_normal_(w, std=0.02)
    return nn.Parameter(w)


class OwnOperatorMixin:
    """Shared by the no-weights layers: the operator is the layer's own ``operator``
    parameters; :meth:`synthesize` ignores the neighbours (it never reads them)."""

    recompute_synthesis = False

    def _own_setup(self, params: Dict[str, nn.Parameter]) -> None:
        self.neighbours = NO_NEIGHBOURS
        self.coefficients = 'none'
        if hasattr(self, 'synthesis'):
            del self.synthesis
        if not self.deploy:
            self.operator = nn.ParameterDict(params)

    def weight_sources(self):
        return {}   # reads no neighbour weight

    def check_neighbour(self, block: nn.Module, side: str = 'neighbour') -> ViTBlockParts:
        return ViTBlockParts(None, None, None, None, None)

    def own_operator(self) -> Dict[str, Tensor]:
        return dict(self.operator.items())


class OwnBasicBlockComputingLayer(OwnOperatorMixin, BasicBlockComputingLayer):
    """No-weights layer at a BasicBlock site: own ``(C, C, 3, 3)`` kernel and BN.

    Trainable parameters: ``9 C^2 + 2C``. Args: those of
    :class:`~repl_mm.core.cnn.BasicBlockComputingLayer` (``neighbours`` / ``coefficients``
    are fixed to ``'none'``).
    """

    def __init__(self, channels: int, neighbours: str = NO_NEIGHBOURS,
                 coefficients: str = 'separate', **kwargs) -> None:
        super().__init__(channels, **kwargs)
        self._own_setup({'kernel': _kaiming((channels, channels, 3, 3))})

    def synthesize(self, prev=None, next=None) -> Dict[str, Tensor]:
        return self.own_operator()


class OwnBottleneckComputingLayer(OwnOperatorMixin, BottleneckComputingLayer):
    """No-weights layer at a Bottleneck site: own ``W_red (B, C, 1, 1)``, ``W_mid (B, B/g, 3,
    3)``, ``W_exp (C, B, 1, 1)`` and BN. Trainable parameters: ``2BC + 9B^2/g + 2C``."""

    def __init__(self, channels: int, mid_channels: int, groups: int = 1,
                 neighbours: str = NO_NEIGHBOURS, coefficients: str = 'separate',
                 **kwargs) -> None:
        super().__init__(channels, mid_channels, groups=groups, **kwargs)
        self._own_setup({'red': _kaiming((mid_channels, channels, 1, 1)),
                         'mid': _kaiming((mid_channels, mid_channels // groups, 3, 3)),
                         'exp': _kaiming((channels, mid_channels, 1, 1))})

    def synthesize(self, prev=None, next=None) -> Dict[str, Tensor]:
        return self.own_operator()


class OwnViTComputingLayer(OwnOperatorMixin, ViTComputingLayer):
    """No-weights layer at a transformer site: own attention projection (and ``LN_1`` in the
    per-head form) and own MLP branch ``LN_2 -> fc1 -> GELU -> fc2``, the shapes of eq. 20-27.

    Trainable parameters: ``d^2 + d`` (+ ``2d`` per-head) for the attention branch,
    ``2dh + h + d + 2d`` for the MLP branch.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 neighbours: str = NO_NEIGHBOURS, coefficients: str = 'separate',
                 **kwargs) -> None:
        super().__init__(embed_dims, num_heads, feedforward_channels, **kwargs)
        d, h = embed_dims, feedforward_channels
        params = {}
        if 'attn' in self.synthesis_branches:
            params.update(attn_weight=_trunc((d, d)), attn_bias=nn.Parameter(torch.zeros(d)))
            if self.head_wise:
                params.update(ln1_weight=nn.Parameter(torch.ones(d)),
                              ln1_bias=nn.Parameter(torch.zeros(d)))
        if 'mlp' in self.synthesis_branches:
            params.update(fc1_weight=_trunc((h, d)), fc1_bias=nn.Parameter(torch.zeros(h)),
                          fc2_weight=_trunc((d, h)), fc2_bias=nn.Parameter(torch.zeros(d)),
                          ln2_weight=nn.Parameter(torch.ones(d)),
                          ln2_bias=nn.Parameter(torch.zeros(d)))
        self._own_setup(params)

    def synthesize(self, prev=None, next=None) -> Dict[str, Tensor]:
        op = self.own_operator()
        if 'attn' in self.synthesis_branches and self.head_wise:
            op['ln1_eps'] = self.norm_eps
        if 'mlp' in self.synthesis_branches:
            op['ln2_eps'] = self.norm_eps
        return op


def own_param_count(kind: str, **shape) -> int:
    """Parameters of a no-weights layer (docs, cost model): ``kind`` ``'basic'``
    (``channels``), ``'bottleneck'`` (``channels``, ``mid_channels``, ``groups``) or ``'vit'``
    (``embed_dims``, ``feedforward_channels``, ``branches``, ``head_wise``)."""
    if kind == 'basic':
        c = shape['channels']
        return 9 * c * c + 2 * c
    if kind == 'bottleneck':
        c, b, g = shape['channels'], shape['mid_channels'], shape.get('groups', 1)
        return 2 * b * c + 9 * b * b // g + 2 * c
    d, h = shape['embed_dims'], shape['feedforward_channels']
    branches = shape.get('branches', ('attn', 'mlp'))
    n = 0
    if 'attn' in branches:
        n += d * d + d + (2 * d if shape.get('head_wise') else 0)
    if 'mlp' in branches:
        n += 2 * d * h + h + d + 2 * d
    return n

