"""The closed forms of the paper's cost analysis (§V-B), for comparison with the measured
cost model: eq. 43, 46, 49 (``P_r`` of a BasicBlock, a Bottleneck, a ViT block), eq. 56-57
(``eta_r``), eq. 52 and 55 (homogeneous approximations of the parameter and FLOP ratios)."""
from typing import Optional

__all__ = ['basic_block_params', 'bottleneck_params', 'vit_block_params', 'eta_basic', 'eta_vit',
           'param_ratio_eq52', 'flop_ratio_eq55']


def basic_block_params(channels: int, q: int = 3) -> int:
    """Eq. 43: ``P_r = 2 C^2 q^2 + 4C`` (two q x q convs without bias, two affine BNs)."""
    return 2 * channels ** 2 * q ** 2 + 4 * channels


def bottleneck_params(channels: int, mid_channels: int, q: int = 3, groups: int = 1) -> int:
    """Eq. 46: ``P_r = 2 C B + B^2 q^2 + 4B + 2C`` (``B^2 q^2 / groups`` for grouped convs)."""
    return (2 * channels * mid_channels + mid_channels ** 2 * q ** 2 // groups
            + 4 * mid_channels + 2 * channels)


def vit_block_params(embed_dims: int, feedforward_channels: Optional[int] = None) -> int:
    """Eq. 49 written out: ``P_r = 4d^2 + 2 d h + O(d)`` (``12 d^2 + 13 d`` for ``h = 4d``):
    QKV and output projections with bias, the two MLP linears with bias, two LayerNorms."""
    d = embed_dims
    h = 4 * d if feedforward_channels is None else feedforward_channels
    return 4 * d * d + 4 * d + 2 * d * h + h + d + 4 * d


def eta_basic() -> float:
    """Eq. 56: a BasicBlock's two q x q convs become one, ``eta = F~_r / F_r = 1/2``."""
    return 0.5


def eta_vit(tokens: int, embed_dims: int) -> float:
    """Eq. 57: one token-wise projection for a whole block, ``eta = 1 / (12 + 2T/d)``."""
    return 1.0 / (12 + 2 * tokens / embed_dims)


def param_ratio_eq52(interval: float, a_mean: float, p_mean: float) -> float:
    """Eq. 52: ``P_RepL / P_E2E ~ 1 - (1 - a/P) / K`` for nearly homogeneous blocks
    (``1/K`` standing for the removed fraction ``R/N``)."""
    return 1 - (1 - a_mean / p_mean) / interval


def flop_ratio_eq55(interval: float, eta_mean: float) -> float:
    """Eq. 55 (and eq. 76): ``F_RepL / F_E2E ~ 1 - (1 - eta) / K``."""
    return 1 - (1 - eta_mean) / interval
