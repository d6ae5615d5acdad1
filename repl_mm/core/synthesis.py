"""Weight synthesis: the one place where RepL turns neighbour weights into an operator.

Implements, for CNNs and ViTs alike,

* the per-output-channel (row) normalisation of eq. 9 / eq. 22,
* the learnable combination ``W_hat = alpha * W_prev + beta * W_next`` of eq. 10, 14, 20 and
  22 (channel-wise, head-wise or scalar coefficients),
* the stop-gradient on neighbour weights of eq. 30.

The ablations of the paper are switches of :class:`SynthesisCoefficients`:

* ``neighbours``: ``'both'`` (default), ``'prev'`` or ``'next'`` (Table VII); ``'none'``
  reads no neighbour at all: the layer owns its operator (Table VI "RepL (no weights)",
  :mod:`repl_mm.core.own`; no :class:`SynthesisCoefficients`);
* ``coefficients``: ``'separate'`` alpha and beta (default) or ``'shared'``: one coefficient
  ``lambda`` with ``alpha = lambda`` and ``beta = 1 - lambda`` (Table XVI, "1 parameter"), or
  ``'fixed'``: alpha = beta = 1/2, no trainable coefficient (the "fixed coefficients"
  ablation, ours; not the paper's Table VI "no weights", see :class:`SynthesisCoefficients`).
"""
from typing import Any, Callable, Optional, Tuple

import torch
import torch.utils.checkpoint as cp
from torch import Tensor, nn

__all__ = ['NEIGHBOURS', 'COEFFICIENTS', 'check_choice', 'check_repl_options',
           'used_neighbours', 'recompute_in_backward', 'normalize_rows', 'stop_gradient',
           'SynthesisCoefficients']

NEIGHBOURS = ('both', 'prev', 'next', 'none')
COEFFICIENTS = ('separate', 'shared', 'fixed')


def check_choice(name: str, value, allowed) -> None:
    """Raises a ValueError naming ``name`` and the allowed values if ``value`` is not one."""
    if value not in allowed:
        raise ValueError(f'{name} must be one of {tuple(allowed)}, got {value!r}')


def used_neighbours(neighbours: str) -> Tuple[str, ...]:
    """The neighbours a ``neighbours`` choice reads: ``('prev', 'next')``, ``('prev',)`` or
    ``('next',)`` (Table VII)."""
    check_choice('neighbours', neighbours, NEIGHBOURS)
    if neighbours == 'none':
        return ()
    return ('prev', 'next') if neighbours == 'both' else (neighbours,)


def recompute_in_backward(synthesize: Callable[..., Any], *args) -> Any:
    """Runs the synthesis ``synthesize(*args)`` keeping none of its intermediates.

    The normalised neighbour kernels that ``alpha * W_prev + beta * W_next`` needs for the
    gradients of alpha and beta (eq. 31) are recomputed in backward instead of stored: the
    recomputation is element-wise on kernel-sized tensors, and the stored copies would be
    the largest batch-independent memory of a computing layer.
    """
    if torch.is_grad_enabled():
        return cp.checkpoint(synthesize, *args, use_reentrant=False)
    return synthesize(*args)


def check_repl_options(neighbours: str, coefficients: str, **flags) -> None:
    """Validates the RepL switches shared by every backbone: ``neighbours``,
    ``coefficients`` and boolean ``flags`` (e.g. ``stop_grad``, ``remove_only``, ``deploy``).

    Raises:
        ValueError: naming the argument and its allowed values.
    """
    check_choice('neighbours', neighbours, NEIGHBOURS)
    check_choice('coefficients', coefficients, COEFFICIENTS)
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f'{name} must be True or False, got {value!r}')
    if neighbours == 'none' and coefficients != 'separate':
        raise ValueError("neighbours='none' (Table VI \"no weights\") gives each computing "
                         'layer its own operator and no synthesis coefficients: leave '
                         f"coefficients at 'separate', got coefficients={coefficients!r}")
    if coefficients == 'shared' and neighbours != 'both':
        raise ValueError("coefficients='shared' combines two neighbours, so it needs "
                         f"neighbours='both', got neighbours={neighbours!r}")


def normalize_rows(weight: Tensor, eps: float = 1e-5) -> Tensor:
    """Eq. 9 / eq. 22: ``W[c] / sqrt(sum(W[c] ** 2) + eps)`` for every output channel ``c``.

    Args:
        weight (Tensor): a conv kernel ``(C_out, C_in, q, q)`` or a linear weight
            ``(d_out, d_in)``; dimension 0 is the output channel.
        eps (float): the epsilon under the square root.
    """
    dims = tuple(range(1, weight.dim()))
    return weight * torch.rsqrt(weight.pow(2).sum(dim=dims, keepdim=True) + eps)


def stop_gradient(weight: Tensor, enabled: bool) -> Tensor:
    """``sg(theta)`` of eq. 30 when ``enabled``, the weight itself otherwise."""
    return weight.detach() if enabled else weight


class SynthesisCoefficients(nn.Module):
    """The learnable transformations T^prev, T^next of eq. 5 as per-group scales.

    ``W_hat`` is ``alpha * W_prev + beta * W_next`` where the ``num_groups`` coefficients are
    broadcast along one dimension of the weights: the output channels for CNN kernels
    (eq. 10, 14: ``num_groups = C``), the head column blocks for the per-head ViT projection
    (eq. 22: ``num_groups = H``), or a single scalar (eq. 20: ``num_groups = 1``).

    Args:
        num_groups (int): number of coefficients per neighbour.
        neighbours (str): ``'both'``, ``'prev'`` or ``'next'``.
        coefficients (str): ``'separate'``, ``'shared'`` (needs both neighbours) or
            ``'fixed'`` (constant 1/2, or 1 with one neighbour; no parameters).
        init_value (float): initial alpha and beta (and lambda when shared). 0.5 makes the
            initial operator the mean of the neighbours, like eq. 23 and eq. 25. Not used by
            ``'fixed'``.

    Trainable parameter count: ``2 * num_groups`` for separate coefficients with both
    neighbours (eq. 44, 47, 50), ``num_groups`` for shared ones or one neighbour, none for
    ``'fixed'``.

    ``coefficients='fixed'`` is the "fixed coefficients" ablation (ours, kept as an extra
    row next to Table VI; it was our first reading of Table VI's "no weights", issue 15; the
    paper's row is ``neighbours='none'``, :mod:`repl_mm.core.own`): the synthesis keeps
    its form (the normalised neighbour weights of eq. 9 / 22, their
    combination of eq. 10, 14, 20, 22) but alpha and beta are constants, registered as
    non-persistent buffers (no parameters, no state-dict keys): ``alpha = beta = 1/2`` with
    both neighbours -- the fixed weights eq. 23 and 25-26 already use -- and ``1`` for the
    one neighbour used with ``neighbours='prev'`` / ``'next'`` (the neighbour's operator
    itself, as the MLP branch of eq. 25-26 reduces to with one neighbour). ``init_value``
    does not apply. Everything else of the computing layer stays, including the BN of a
    CNN layer (its ``2C`` affine parameters remain trainable). It costs what full RepL
    costs (docs/ablations.md).
    """

    def __init__(self, num_groups: int, neighbours: str = 'both',
                 coefficients: str = 'separate', init_value: float = 0.5) -> None:
        super().__init__()
        check_repl_options(neighbours, coefficients)
        if neighbours == 'none':
            raise ValueError("neighbours='none' has no synthesis coefficients: its computing "
                             'layers own their operator (repl_mm.core.own)')
        self.num_groups = num_groups
        self.neighbours = neighbours
        self.coefficients = coefficients
        if coefficients == 'fixed':
            value = 0.5 if neighbours == 'both' else 1.0
            for name, side in (('alpha', 'prev'), ('beta', 'next')):
                if side in used_neighbours(neighbours):
                    self.register_buffer(name, torch.full((num_groups,), value),
                                         persistent=False)
            return
        if neighbours in ('both', 'prev'):
            self.alpha = nn.Parameter(torch.full((num_groups,), float(init_value)))
        if neighbours == 'next' or (neighbours == 'both' and coefficients == 'separate'):
            self.beta = nn.Parameter(torch.full((num_groups,), float(init_value)))

    def _scale(self, coef: Tensor, weight: Tensor, dim: int) -> Tensor:
        size = weight.shape[dim]
        if size % self.num_groups:
            raise ValueError(f'weight dim {dim} of size {size} is not divisible into '
                             f'{self.num_groups} coefficient groups')
        coef = coef.to(weight.dtype).repeat_interleave(size // self.num_groups)
        shape = [1] * weight.dim()
        shape[dim] = size
        return coef.view(shape)

    def forward(self, w_prev: Optional[Tensor], w_next: Optional[Tensor],
                dim: int = 0) -> Tensor:
        """``alpha * w_prev + beta * w_next`` with the coefficients broadcast along ``dim``.

        A neighbour that this configuration does not use may be passed as ``None``.
        """
        if self.neighbours == 'prev':
            return self._scale(self.alpha, w_prev, dim) * w_prev
        if self.neighbours == 'next':
            return self._scale(self.beta, w_next, dim) * w_next
        alpha = self._scale(self.alpha, w_prev, dim)
        beta = (1 - alpha if self.coefficients == 'shared'
                else self._scale(self.beta, w_next, dim))
        return alpha * w_prev + beta * w_next

    def extra_repr(self) -> str:
        return (f'num_groups={self.num_groups}, neighbours={self.neighbours!r}, '
                f'coefficients={self.coefficients!r}')
