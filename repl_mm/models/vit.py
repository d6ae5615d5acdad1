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
from typing import List, Optional, Sequence, Tuple

import torch
from mmpretrain.models.backbones.vision_transformer import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed
from torch import Tensor, nn

from ..core.forms import prepare_backbone_for_state_dict
from ..core.neighbours import fold_layers, forward_layer
from ..core.options import DEFAULT_INTERVAL, TRANSFORMER_REPL_ARGS_DOC, TransformerRepLOptions
from ..core.own import NO_NEIGHBOURS, OwnViTComputingLayer
from ..core.plan import removal_plan
from ..core.vit import ViTComputingLayer, transformer_block_parts
from .adaptive import ADAPTIVE_ARGS_DOC, AdaptiveRepLMixin, check_adaptive
from .summary import log_removal, trainable_params

__all__ = ['RepLViTMixin', 'VisionTransformerRepL', 'REPL_VIT_ARGS']

#: The ``Args:`` text of the RepL arguments (one source: :mod:`repl_mm.core.options`).
REPL_VIT_ARGS = TRANSFORMER_REPL_ARGS_DOC + ADAPTIVE_ARGS_DOC


def embed_tokens(vit: nn.Module, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
    """The token embedding of mmpretrain 1.2.0 ``VisionTransformer.forward`` (patch embedding,
    class token, resized position embedding, dropout, pre-norm), shared by the ViT variants
    that replace its layer loop (ViT-RepL, Skip-Attention).

    Returns:
        tuple: the tokens ``(B, T, d)`` and the patch resolution.
    """
    B = x.shape[0]
    x, patch_resolution = vit.patch_embed(x)
    if vit.cls_token is not None:
        x = torch.cat((vit.cls_token.expand(B, -1, -1), x), dim=1)
    x = x + resize_pos_embed(
        vit.pos_embed, vit.patch_resolution, patch_resolution,
        mode=vit.interpolate_mode, num_extra_tokens=vit.num_extra_tokens)
    return vit.pre_norm(vit.drop_after_pos(x)), patch_resolution


class RepLViTMixin(AdaptiveRepLMixin):
    """Mixin applying the removal plan to mmpretrain's ``VisionTransformer``; put it before
    that class in the bases. See ``REPL_VIT_ARGS`` for the arguments it adds."""

    def __init__(self, *args, interval: Optional[int] = DEFAULT_INTERVAL,
                 replace_blocks: Optional[Sequence[int]] = None,
                 synthesis_branches: Sequence[str] = ('attn', 'mlp'),
                 head_wise: bool = False, neighbours: str = 'both',
                 coefficients: str = 'separate', stop_grad: bool = True,
                 remove_only: bool = False, deploy: bool = False, adaptive: bool = False,
                 **kwargs) -> None:
        try:
            self.repl_options = TransformerRepLOptions(
                interval, replace_blocks, neighbours, coefficients, stop_grad, remove_only,
                deploy, synthesis_branches, head_wise)
            check_adaptive(adaptive, remove_only=remove_only, deploy=deploy)
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        super().__init__(*args, **kwargs)
        for name, value in self.repl_options.as_dict().items():
            setattr(self, name, value)  # the stock-style attributes (self.interval, ...)
        self.adaptive = adaptive
        params_before = trainable_params(self)
        plan_arg = self.repl_options.plan_arg
        try:
            self.removal_plan: List[List[int]] = removal_plan(
                [len(self.layers)], self.repl_options.plan_interval,
                None if replace_blocks is None else [list(replace_blocks)])
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        self.removed_blocks: List[int] = self.removal_plan[0]
        if adaptive:  # every block kept, a computing layer per internal block (§IV-D1h)
            self._attach_adaptive_vit(self.removed_blocks,
                                      lambda i: self._computing_layer(i, 'adaptive'))
        for i in ([] if adaptive else self.removed_blocks):
            self.layers[i] = (nn.Identity() if remove_only else
                              self._computing_layer(i, plan_arg))
        if self.frozen_stages > 0:
            self._freeze_stages()  # frozen stages also freeze their computing layers
        if adaptive:
            self._log_adaptive(params_before)
            return
        log_removal(type(self).__name__, self.repl_options,
                    [f'layers.{i}' for i in self.removed_blocks], len(self.layers),
                    params_before, trainable_params(self))

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
        own = self.repl_options.neighbours == NO_NEIGHBOURS   # Table VI "no weights"
        cls = OwnViTComputingLayer if own else ViTComputingLayer
        layer = cls(
            self.embed_dims, block.attn.num_heads, hidden, **self.repl_options.layer_kwargs(),
            drop_path=drop_path, norm_eps=float(getattr(parts.ln1, 'eps', 1e-6)))
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
        x, patch_resolution = embed_tokens(self, x)

        layers = self.active_layers()  # the blocks, with Adaptive-RepL's mask applied
        outs = []
        for i in range(len(layers)):
            x = forward_layer(layers, i, x)
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
        An Adaptive-RepL backbone first becomes the fixed RepL backbone of its mask.
        """
        self._fix_adaptive_mask()
        fold_layers(list(self.layers))
        self.deploy = True


class VisionTransformerRepL(RepLViTMixin, VisionTransformer):
    __doc__ = ('RepL drop-in for mmpretrain\'s ``VisionTransformer`` (paper §III-C): accepts '
               'every argument of that class (arch, img_size, patch_size, out_indices, '
               'out_type, with_cls_token, final_norm, pre_norm, drop_path_rate, frozen_stages, '
               'layer_cfgs, init_cfg, ...) plus:\n\n    Args:' + REPL_VIT_ARGS)
