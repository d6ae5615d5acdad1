"""ViT-RepL: mmpretrain's ``VisionTransformer`` with RepL computing layers (paper §III-C).

:class:`RepLViTMixin` turns a built ViT into its RepL form: the 0-based blocks of
``removal_plan([num_layers], interval, ...)`` (for 12 blocks and ``K = 4``: 3 and 7, eq. 16)
are removed and a :class:`~repl_mm.core.vit.ViTComputingLayer` takes each one's place in
``self.layers``. The forward loop passes each computing layer its neighbours
``layers[i - 1]`` and ``layers[i + 1]``; the layer keeps no reference to them.

State-dict keys: retained blocks keep the stock keys (``layers.2.attn.proj.weight``); a
computing layer sits at the removed block's index (``layers.3.synthesis.alpha``), so
``out_indices`` keep their meaning and a stock checkpoint loads with only the removed blocks'
keys unexpected (and the coefficients missing). With ``remove_only=True`` the removed
block's slot holds an ``nn.Identity`` (no keys).

Stochastic depth: each computing layer reuses the removed block's drop-path module (its
``drop_path_rate`` share of the linear decay) on both of its residual branches. Frozen
stages freeze the computing layers inside the frozen range like the blocks they replace.
The removed block's other settings (``drop_rate`` dropouts, layer scale) have no counterpart
in the computing layer (eq. 21, 24, 27 have none).

:class:`VisionTransformerRepL` is the registered class (mmpretrain and mmseg scopes).
"""
from typing import List, Optional, Sequence

import torch
from mmpretrain.models.backbones.vision_transformer import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed
from torch import Tensor, nn

from ..core.forms import prepare_backbone_for_state_dict
from ..core.plan import removal_plan
from ..core.synthesis import check_repl_options
from ..core.vit import ViTComputingLayer, check_synthesis_branches, transformer_block_parts

__all__ = ['RepLViTMixin', 'VisionTransformerRepL', 'REPL_VIT_ARGS']

REPL_VIT_ARGS = """
        interval (int | None): replacement interval ``K`` (eq. 16): the 1-based blocks
            ``r = mK, 1 <= r < L`` are removed (12 blocks, ``K = 4``: 0-based 3 and 7).
            ``None`` removes nothing: the backbone is then the stock ViT. Default 4.
        replace_blocks (Sequence[int], optional): explicit 0-based indices of the blocks to
            remove (a flat list; not the first, not the last, no two adjacent), used
            instead of ``interval``.
        synthesis_branches (Sequence[str]): ``('attn', 'mlp')`` (default, the full design of
            Table VI: attention-projection branch then MLP-fusion branch, each residual),
            ``('attn',)`` or ``('mlp',)``.
        head_wise (bool): per-head synthesis of the attention projection (eq. 22-24,
            ``2H`` coefficients per layer) instead of the scalar form (eq. 20-21, 2
            coefficients). Default False.
        neighbours (str): neighbours that feed the synthesis: ``'both'`` (default),
            ``'prev'`` or ``'next'`` (Table VII).
        coefficients (str): ``'separate'`` alpha and beta (default) or one ``'shared'``
            coefficient with ``beta = 1 - alpha`` (Table XVI).
        stop_grad (bool): stop-gradient on the neighbour tensors read by the computing
            layers (eq. 30). Default True.
        remove_only (bool): drop the blocks and insert nothing (Tables III-IV, "-25%
            layers"). Default False.
        deploy (bool): build the computing layers in their static deploy form (eq. 33), to
            load a checkpoint written after :meth:`switch_to_deploy`. Default False.
"""


class RepLViTMixin:
    """Mixin applying the removal plan to mmpretrain's ``VisionTransformer``; put it before
    that class in the bases. See ``REPL_VIT_ARGS`` for the arguments it adds."""

    def __init__(self, *args, interval: Optional[int] = 4,
                 replace_blocks: Optional[Sequence[int]] = None,
                 synthesis_branches: Sequence[str] = ('attn', 'mlp'),
                 head_wise: bool = False, neighbours: str = 'both',
                 coefficients: str = 'separate', stop_grad: bool = True,
                 remove_only: bool = False, deploy: bool = False, **kwargs) -> None:
        synthesis_branches = check_synthesis_branches(synthesis_branches)
        check_repl_options(neighbours, coefficients, head_wise=head_wise, stop_grad=stop_grad,
                           remove_only=remove_only, deploy=deploy)
        if replace_blocks is not None and (
                isinstance(replace_blocks, (str, bytes))
                or not isinstance(replace_blocks, Sequence)
                or any(isinstance(i, bool) or not isinstance(i, int) for i in replace_blocks)):
            raise ValueError('replace_blocks must be a flat list of 0-based block indices '
                             f'(ints), e.g. [3, 7], got {replace_blocks!r}')
        super().__init__(*args, **kwargs)
        self.interval = interval
        self.replace_blocks = replace_blocks
        self.synthesis_branches = synthesis_branches
        self.head_wise = head_wise
        self.neighbours = neighbours
        self.coefficients = coefficients
        self.stop_grad = stop_grad
        self.remove_only = remove_only
        self.deploy = deploy
        plan_arg = 'replace_blocks' if replace_blocks is not None else 'interval'
        try:
            self.removal_plan: List[List[int]] = removal_plan(
                [len(self.layers)], interval,
                None if replace_blocks is None else [list(replace_blocks)])
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        self.removed_blocks: List[int] = self.removal_plan[0]
        for i in self.removed_blocks:
            self.layers[i] = (nn.Identity() if remove_only else
                              self._computing_layer(i, plan_arg))
        if self.frozen_stages > 0:
            self._freeze_stages()  # frozen stages also freeze their computing layers

    def _computing_layer(self, index: int, plan_arg: str) -> ViTComputingLayer:
        """Builds the computing layer for removed block ``index`` and checks its neighbours."""
        block = self.layers[index]
        parts = transformer_block_parts(block)
        if parts.proj is None or parts.ln1 is None:
            raise ValueError(f'{type(self).__name__}: block {index} '
                             f'({type(block).__name__}) is not a pre-norm transformer block')
        hidden = parts.fc1.out_features if parts.fc1 is not None else \
            self.arch_settings['feedforward_channels']
        drop_path = getattr(block.attn, 'out_drop', None)
        layer = ViTComputingLayer(
            self.embed_dims, block.attn.num_heads, hidden,
            synthesis_branches=self.synthesis_branches, head_wise=self.head_wise,
            neighbours=self.neighbours, coefficients=self.coefficients,
            stop_grad=self.stop_grad,
            drop_path=drop_path,
            deploy=self.deploy, norm_eps=float(getattr(parts.ln1, 'eps', 1e-6)))
        for nb, side in ((self.layers[index - 1], 'left'), (self.layers[index + 1], 'right')):
            try:
                layer.check_neighbour(nb, side)
            except ValueError as e:
                raise ValueError(f'{type(self).__name__}: {plan_arg} removes block {index}: '
                                 f'{e}') from None
        return layer

    def forward(self, x: Tensor):
        """mmpretrain 1.2.0 ``VisionTransformer.forward``; the loop passes each training-form
        computing layer its neighbours (``x <- g_r(x; theta_{r-1}, theta_{r+1})``)."""
        B = x.shape[0]
        x, patch_resolution = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(
            self.pos_embed, self.patch_resolution, patch_resolution,
            mode=self.interpolate_mode, num_extra_tokens=self.num_extra_tokens)
        x = self.drop_after_pos(x)
        x = self.pre_norm(x)

        layers = list(self.layers)
        outs = []
        for i, layer in enumerate(layers):
            if isinstance(layer, ViTComputingLayer) and not layer.deploy:
                x = layer(x, layers[i - 1], layers[i + 1])
            else:
                x = layer(x)
            if i == len(layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, patch_resolution))
        return tuple(outs)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # a checkpoint of the other form (training / deploy): switch or refuse (core.forms)
        prepare_backbone_for_state_dict(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def switch_to_deploy(self) -> None:
        """Re-parameterizes every computing layer into fixed linear layers (eq. 33).

        In eval mode the outputs stay equal (to float precision) and the computing layers no
        longer read their neighbours. Like mmpretrain's ``RepVGG.switch_to_deploy``.
        """
        layers = list(self.layers)
        for i, layer in enumerate(layers):
            if isinstance(layer, ViTComputingLayer):
                layer.switch_to_deploy(layers[i - 1], layers[i + 1])
        self.deploy = True


class VisionTransformerRepL(RepLViTMixin, VisionTransformer):
    __doc__ = ('RepL drop-in for mmpretrain\'s ``VisionTransformer`` (paper §III-C): accepts '
               'every argument of that class (arch, img_size, patch_size, out_indices, '
               'out_type, with_cls_token, final_norm, pre_norm, drop_path_rate, frozen_stages, '
               'layer_cfgs, init_cfg, ...) plus:\n\n    Args:' + REPL_VIT_ARGS)
