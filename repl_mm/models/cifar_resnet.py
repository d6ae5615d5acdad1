"""CIFAR ResNets of He et al. (2016), §4.2: depth 6n+2, the paper's ResNet-32 and ResNet-110.

A 3x3 stem of 16 channels, three stages of ``n`` BasicBlocks with 16, 32 and 64 channels
(strides 1, 2, 2), no max-pool. Built on mmpretrain's ``ResNet_CIFAR`` so every mm ResNet
argument (norm_cfg, frozen_stages, with_cp, drop_path_rate, init_cfg, ...) works. The
down-sampling shortcuts are mmpretrain's 1x1 conv + BN projections (He et al.'s option B).
"""
from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.backbones.resnet_cifar import ResNet_CIFAR

from .resnet import REPL_RESNET_ARGS, RepLResNetMixin
from .stochastic_depth import apply_stochastic_depth, check_stochastic_depth

__all__ = ['CifarResNet', 'CifarResNetRepL']


class CifarResNet(ResNet_CIFAR):
    """CIFAR ResNet-(6n+2) of He et al.

    Args:
        depth (int): 20, 32, 44, 56 or 110.
        stem_channels (int): stem width. Default 16.
        base_channels (int): width of the first stage. Default 16.
        num_stages (int): Default 3.
        strides (Sequence[int]): Default ``(1, 2, 2)``.
        dilations (Sequence[int]): Default ``(1, 1, 1)``.
        out_indices (Sequence[int]): Default ``(2,)``.
        stochastic_depth (dict, optional): ``dict(p_last=0.5)``: Huang et al.'s stochastic
            depth (``repl_mm.models.stochastic_depth``, Table IX). Default None.
        **kwargs: any other argument of mmpretrain's ``ResNet``.
    """
    arch_settings = {d: (BasicBlock, ((d - 2) // 6,) * 3) for d in (20, 32, 44, 56, 110)}

    def __init__(self, depth: int, stem_channels: int = 16, base_channels: int = 16,
                 num_stages: int = 3, strides=(1, 2, 2), dilations=(1, 1, 1),
                 out_indices=(2,), stochastic_depth=None, **kwargs) -> None:
        if depth not in self.arch_settings:
            raise ValueError(f'depth must be one of {sorted(self.arch_settings)} '
                             f'(6n+2), got {depth!r}')
        p_last = check_stochastic_depth(stochastic_depth)
        super().__init__(depth, stem_channels=stem_channels, base_channels=base_channels,
                         num_stages=num_stages, strides=strides, dilations=dilations,
                         out_indices=out_indices, **kwargs)
        if p_last is not None:  # the RepL mixin passes None and applies it after the plan
            self.stochastic_depth = stochastic_depth
            apply_stochastic_depth(self, p_last)


class CifarResNetRepL(RepLResNetMixin, CifarResNet):
    __doc__ = CifarResNet.__doc__.replace('CIFAR ResNet-(6n+2)', 'RepL CIFAR ResNet-(6n+2)',
                                          1).rstrip() + REPL_RESNET_ARGS
    ZERO_INIT_IN_INIT_WEIGHTS = True  # mmpretrain's ResNet.init_weights zeroes norm2
