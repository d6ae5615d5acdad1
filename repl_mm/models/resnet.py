"""The toolbox-independent part of ResNet-RepL (paper §III-B).

:class:`RepLResNetMixin` turns any built mm ``ResNet`` (mmdet's, mmseg's, mmpretrain's, or
:class:`~repl_mm.models.cifar_resnet.CifarResNet`) into its RepL form: after the stock
backbone is built, every stage with blocks to remove becomes a
:class:`~repl_mm.core.stage.RepLStage` in which each removed block's position holds a
computing layer configured from that block (width, groups, dilation, stochastic depth,
checkpointing). The per-toolbox classes in :mod:`repl_mm.adapters` only combine this mixin
with the toolbox's ``ResNet`` and register the result.
"""
from collections import OrderedDict
from typing import List, Optional, Sequence

from torch import nn

from ..core.cnn import BasicBlockComputingLayer, BottleneckComputingLayer, ComputingLayer
from ..core.forms import prepare_backbone_for_state_dict
from ..core.plan import removal_plan
from ..core.stage import RepLStage, computing_layers
from ..core.synthesis import check_repl_options

__all__ = ['RepLResNetMixin', 'REPL_RESNET_ARGS']

REPL_RESNET_ARGS = """
        interval (int | None): replacement interval ``K`` (eq. 16): in each stage of
            ``L_s`` blocks the 1-based blocks ``r = mK, 1 <= r < L_s`` are removed.
            ``None`` removes nothing: the backbone is then the stock ResNet. Default 4.
        replace_blocks (Sequence[Sequence[int]], optional): explicit 0-based block indices
            to remove, one list per stage, used instead of ``interval``.
        neighbours (str): neighbours that feed the synthesis: ``'both'`` (default),
            ``'prev'`` or ``'next'`` (Table VII).
        coefficients (str): ``'separate'`` alpha and beta (default) or one ``'shared'``
            coefficient with ``beta = 1 - alpha`` (Table XVI).
        stop_grad (bool): stop-gradient on neighbour weights in the synthesis (eq. 30).
            Default True.
        remove_only (bool): drop the blocks and insert nothing (Tables III-IV,
            "-25% layers"). Default False.
        deploy (bool): build the computing layers in their static deploy form (eq. 32), to
            load a checkpoint written after :meth:`switch_to_deploy`. Default False.
"""


class RepLResNetMixin:
    """Mixin that applies the removal plan to a stock mm ResNet; put it before the ResNet
    class in the bases. See ``REPL_RESNET_ARGS`` for the arguments it adds."""

    def __init__(self, *args, interval: Optional[int] = 4,
                 replace_blocks: Optional[Sequence[Sequence[int]]] = None,
                 neighbours: str = 'both', coefficients: str = 'separate',
                 stop_grad: bool = True, remove_only: bool = False, deploy: bool = False,
                 **kwargs) -> None:
        check_repl_options(neighbours, coefficients, stop_grad=stop_grad,
                           remove_only=remove_only, deploy=deploy)
        super().__init__(*args, **kwargs)
        self.interval = interval
        self.replace_blocks = replace_blocks
        self.neighbours = neighbours
        self.coefficients = coefficients
        self.stop_grad = stop_grad
        self.remove_only = remove_only
        self.deploy = deploy
        stages = [getattr(self, name) for name in self.res_layers]
        plan_arg = 'replace_blocks' if replace_blocks is not None else 'interval'
        try:
            self.removal_plan: List[List[int]] = removal_plan(
                [len(s) for s in stages], interval, replace_blocks)
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        for name, stage, removed in zip(self.res_layers, stages, self.removal_plan):
            if removed:
                setattr(self, name, self._replace_stage(stage, removed, plan_arg))
        if hasattr(self, '_freeze_stages'):
            self._freeze_stages()  # frozen stages also freeze their computing layers

    def _replace_stage(self, stage: nn.Sequential, removed: List[int],
                       plan_arg: str) -> RepLStage:
        blocks = list(stage)
        children = OrderedDict()
        for i, block in enumerate(blocks):
            if i not in removed:
                children[str(i)] = block
            elif not self.remove_only:
                children[str(i)] = self._computing_layer(blocks[i - 1], block, blocks[i + 1],
                                                         i, plan_arg)
        return RepLStage(children)

    def _computing_layer(self, prev: nn.Module, block: nn.Module, next: nn.Module, index: int,
                         plan_arg: str) -> ComputingLayer:
        """Builds the computing layer for removed ``block`` and checks its neighbours."""
        bottleneck = hasattr(block, 'conv3')
        mid = block.conv2
        common = dict(neighbours=self.neighbours, coefficients=self.coefficients,
                      stop_grad=self.stop_grad, norm_cfg=getattr(self, 'norm_cfg', None),
                      drop_path=getattr(block, 'drop_path', None),
                      with_cp=bool(getattr(block, 'with_cp', False)), deploy=self.deploy,
                      padding=_first(mid.padding), dilation=_first(mid.dilation))
        if bottleneck:
            layer = BottleneckComputingLayer(block.conv3.out_channels, mid.out_channels,
                                             groups=mid.groups, **common)
        else:
            layer = BasicBlockComputingLayer(mid.out_channels, **common)
        neighbours = {'prev': prev, 'next': next}
        for role, (side, conv) in layer.weight_sources().items():
            got = tuple(getattr(neighbours[side], conv).weight.shape)
            want = tuple(getattr(block, conv).weight.shape)
            if got != want:
                raise ValueError(
                    f'{type(self).__name__}: {plan_arg} removes block {index} of a stage, but '
                    f"its {'left' if side == 'prev' else 'right'} neighbour's {conv} has shape "
                    f"{got}, not the removed block's {want} (a stage-transition block with "
                    f'another input width). Allowed: blocks whose neighbours match the removed '
                    f'block, e.g. interval >= 3 or replace_blocks without index 1 in '
                    f'Bottleneck stages')
        return layer

    def init_weights(self) -> None:
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if getattr(self, 'zero_init_residual', False) and not pretrained:
            # like the stock blocks' last BN, each computing layer starts as an identity
            for _, layer in computing_layers(self):
                if not layer.deploy and getattr(layer.norm, 'weight', None) is not None:
                    nn.init.zeros_(layer.norm.weight)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # a checkpoint of the other form (training / deploy): switch or refuse (core.forms)
        prepare_backbone_for_state_dict(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def switch_to_deploy(self) -> None:
        """Re-parameterizes every computing layer into static convolutions (eq. 32).

        In eval mode the outputs stay equal (to float precision); the computing layers no
        longer read their neighbours. Like mmpretrain's ``RepVGG.switch_to_deploy``.
        """
        for name in self.res_layers:
            stage = getattr(self, name)
            if isinstance(stage, RepLStage):
                stage.switch_to_deploy()
        self.deploy = True


def _first(v):
    return v[0] if isinstance(v, (tuple, list)) else v
