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

from ..core.cnn import (
    BasicBlockComputingLayer,
    BottleneckComputingLayer,
    ConvComputingLayer,
    zero_norm,
)
from ..core.forms import prepare_backbone_for_state_dict
from ..core.options import DEFAULT_INTERVAL, REPL_ARGS_DOC, RepLOptions
from ..core.own import NO_NEIGHBOURS, OwnBasicBlockComputingLayer, OwnBottleneckComputingLayer
from ..core.plan import removal_plan
from ..core.stage import RepLStage, computing_layers
from .adaptive import ADAPTIVE_ARGS_DOC, AdaptiveRepLMixin, check_adaptive
from .stochastic_depth import (
    STOCHASTIC_DEPTH_ARGS_DOC,
    apply_stochastic_depth,
    check_stochastic_depth,
)
from .summary import log_removal, trainable_params

__all__ = ['RepLResNetMixin', 'ResNetV1cMixin', 'ResNetV1dMixin', 'REPL_RESNET_ARGS',
           'zero_inits_last_norm']

#: The ``Args:`` text of the RepL arguments (one source: :mod:`repl_mm.core.options`).
REPL_RESNET_ARGS = REPL_ARGS_DOC + ADAPTIVE_ARGS_DOC + STOCHASTIC_DEPTH_ARGS_DOC


class RepLResNetMixin(AdaptiveRepLMixin):
    """Mixin that applies the removal plan to a stock mm ResNet; put it before the ResNet
    class in the bases. See ``REPL_RESNET_ARGS`` for the arguments it adds.

    ``ZERO_INIT_IN_INIT_WEIGHTS``: True where the stock ``ResNet`` applies
    ``zero_init_residual`` in its ``init_weights`` (mmpretrain) rather than through the
    blocks' ``init_cfg`` (mmdet, mmseg).
    """

    ZERO_INIT_IN_INIT_WEIGHTS = False

    def __init__(self, *args, interval: Optional[int] = DEFAULT_INTERVAL,
                 replace_blocks: Optional[Sequence[Sequence[int]]] = None,
                 neighbours: str = 'both', coefficients: str = 'separate',
                 stop_grad: bool = True, remove_only: bool = False, deploy: bool = False,
                 adaptive: bool = False, stochastic_depth: Optional[dict] = None,
                 **kwargs) -> None:
        try:
            self.repl_options = RepLOptions(interval, replace_blocks, neighbours, coefficients,
                                            stop_grad, remove_only, deploy)
            check_adaptive(adaptive, remove_only=remove_only, deploy=deploy)
            p_last = check_stochastic_depth(stochastic_depth)
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        super().__init__(*args, **kwargs)
        for name, value in self.repl_options.as_dict().items():
            setattr(self, name, value)  # the stock-style attributes (self.interval, ...)
        self.adaptive, self.stochastic_depth = adaptive, stochastic_depth
        params_before = trainable_params(self)
        stages = [getattr(self, name) for name in self.res_layers]
        plan_arg = self.repl_options.plan_arg
        try:
            self.removal_plan: List[List[int]] = removal_plan(
                [len(s) for s in stages], self.repl_options.plan_interval, replace_blocks)
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        if adaptive:  # every block kept, a computing layer per candidate (§IV-D1h)
            self._attach_adaptive_stages(self.res_layers, self.removal_plan, lambda p, b, n, i:
                                         self._computing_layer(p, b, n, i, 'adaptive'))
        for name, stage, removed in zip(self.res_layers, stages, self.removal_plan):
            if removed and not adaptive:
                setattr(self, name, self._replace_stage(stage, removed, plan_arg))
        if p_last is not None:  # Huang et al.'s stochastic depth (Table IX)
            apply_stochastic_depth(self, p_last)
        if hasattr(self, '_freeze_stages'):
            self._freeze_stages()  # frozen stages also freeze their computing layers
        if adaptive:
            self._log_adaptive(params_before)
            return
        log_removal(type(self).__name__, self.repl_options,
                    [f'{name}.{i}' for name, removed in zip(self.res_layers, self.removal_plan)
                     for i in removed],
                    sum(len(s) for s in stages), params_before, trainable_params(self))

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
        return RepLStage(children, init_cfg=getattr(stage, 'init_cfg', None))

    def _computing_layer(self, prev: nn.Module, block: nn.Module, next: nn.Module, index: int,
                         plan_arg: str) -> ConvComputingLayer:
        """Builds the computing layer for removed ``block`` and checks its neighbours."""
        bottleneck = hasattr(block, 'conv3')
        self._check_block_extras(block, index, plan_arg)
        mid = block.conv2
        common = dict(self.repl_options.layer_kwargs(), norm_cfg=getattr(self, 'norm_cfg', None),
                      drop_path=getattr(block, 'drop_path', None),
                      with_cp=bool(getattr(block, 'with_cp', False)),
                      padding=_first(mid.padding), dilation=_first(mid.dilation),
                      zero_init_norm=zero_inits_last_norm(block))
        own = self.repl_options.neighbours == NO_NEIGHBOURS   # Table VI "no weights"
        if bottleneck:
            layer = (OwnBottleneckComputingLayer if own else BottleneckComputingLayer)(
                block.conv3.out_channels, mid.out_channels, groups=mid.groups, **common)
        else:
            layer = (OwnBasicBlockComputingLayer if own else BasicBlockComputingLayer)(
                mid.out_channels, **common)
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

    def _check_block_extras(self, block: nn.Module, index: int, plan_arg: str) -> None:
        """Refuses removing a block whose extras a computing layer cannot carry (README "RepL
        arguments"): a deformable conv2 (``dcn``) or ``plugins``."""
        name = type(self).__name__
        if getattr(block, 'with_dcn', False):
            raise ValueError(
                f'{name}: dcn/stage_with_dcn makes the conv2 of a block that {plan_arg} removes '
                f'(block {index} of its stage) deformable, but a computing layer convolves with '
                'a static kernel synthesized from its neighbours and has no offsets. Allowed: '
                'stage_with_dcn=False for that stage, or replace_blocks with [] for it')
        if any(getattr(block, f'after_conv{k}_plugin_names', None) for k in (1, 2, 3)):
            raise ValueError(
                f'{name}: plugins puts plugin layers in a block that {plan_arg} removes (block '
                f'{index} of its stage); a computing layer has no place for them. Allowed: '
                "plugins whose 'stages' exclude that stage, or replace_blocks with [] for it")

    def init_weights(self) -> None:
        """The stock ``init_weights``, reaching every retained block (the stages are mmengine
        ``BaseModule``s, :class:`~repl_mm.core.stage.RepLStage`), plus the computing layers'
        share of ``zero_init_residual`` (issue 27).

        mmdet / mmseg zero the last norm of every block through the block's ``init_cfg``;
        each computing layer copies that ``init_cfg`` from the block it replaces
        (``zero_init_norm``) and is zeroed by the same recursion. mmpretrain's ``ResNet``
        zeroes the blocks in its own ``init_weights`` unless ``init_cfg`` is ``Pretrained``
        (``ZERO_INIT_IN_INIT_WEIGHTS``); the computing layers follow it here.
        """
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if (self.ZERO_INIT_IN_INIT_WEIGHTS and getattr(self, 'zero_init_residual', False)
                and not pretrained):
            # like the stock blocks' last BN, each computing layer starts as an identity
            for _, layer in computing_layers(self):
                if not layer.deploy and getattr(layer, 'norm', None) is not None:
                    zero_norm(layer.norm)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # a checkpoint of the other form (training / deploy): switch or refuse (core.forms)
        prepare_backbone_for_state_dict(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def switch_to_deploy(self) -> None:
        """Re-parameterizes every computing layer into static convolutions (eq. 32).

        In eval mode the outputs stay equal (to float precision); the computing layers no
        longer read their neighbours. Like mmpretrain's ``RepVGG.switch_to_deploy``.
        An Adaptive-RepL backbone first becomes the fixed RepL backbone of its mask.
        """
        self._fix_adaptive_mask()
        for name in self.res_layers:
            stage = getattr(self, name)
            if isinstance(stage, RepLStage):
                stage.switch_to_deploy()
        self.deploy = True


class ResNetV1cMixin:
    """ResNetV1c: deep 3-conv stem (``deep_stem=True``), stride-conv shortcuts; put it before
    a RepL ResNet class in the bases."""

    def __init__(self, **kwargs) -> None:
        super().__init__(deep_stem=True, avg_down=False, **kwargs)


class ResNetV1dMixin:
    """ResNetV1d: deep stem and average-pool shortcuts (``deep_stem=True,
    avg_down=True``); put it before a RepL ResNet class in the bases."""

    def __init__(self, **kwargs) -> None:
        super().__init__(deep_stem=True, avg_down=True, **kwargs)


def zero_inits_last_norm(block: nn.Module) -> bool:
    """True where the block's own ``init_cfg`` zeroes its last norm (``norm3`` of a
    Bottleneck, ``norm2`` of a BasicBlock): mmdet's and mmseg's ``zero_init_residual``."""
    last = 'norm3' if hasattr(block, 'conv3') else 'norm2'
    cfgs = getattr(block, 'init_cfg', None) or []
    for cfg in [cfgs] if isinstance(cfgs, dict) else cfgs:
        overrides = cfg.get('override') or []
        for ov in [overrides] if isinstance(overrides, dict) else overrides:
            val = ov.get('val', cfg.get('val'))
            if (ov.get('type', cfg.get('type')) == 'Constant' and val == 0
                    and ov.get('name') == last):
                return True
    return False


def _first(v):
    return v[0] if isinstance(v, (tuple, list)) else v
