"""The blocks of a backbone, as the cost model sees them: the stages and their blocks
(ResNet ``res_layers``, ViT ``layers``), the kind of a block, and the parameters ``a_r`` of the
computing layer that replaces one (eq. 44, 47, 50, with the ablation switches)."""
from collections import OrderedDict
from typing import List, Optional, Tuple

from torch import nn

from ..core.layer import is_training_layer

__all__ = ['backbone_stages', 'block_kind', 'computing_layer_params', 'is_training_computing_layer']


def backbone_stages(backbone: nn.Module) -> List['OrderedDict[int, Tuple[str, nn.Module]]']:
    """The residual blocks of a backbone, per stage: ``{index: (qualified name, module)}``.

    Understands mm ResNets (``res_layers``; a RepL stage keeps the stock child names, so a
    computing layer sits at the removed block's index and ``remove_only`` leaves a gap) and
    ViTs (one stage, ``layers``).
    """
    if hasattr(backbone, 'res_layers'):
        stages = []
        for lname in backbone.res_layers:
            stage = getattr(backbone, lname)
            stages.append(OrderedDict((int(c), (f'{lname}.{c}', m))
                                      for c, m in stage.named_children()))
        return stages
    layers = getattr(backbone, 'layers', None)
    if isinstance(layers, nn.ModuleList):
        return [OrderedDict((i, (f'layers.{i}', m)) for i, m in enumerate(layers))]
    raise ValueError(f'{type(backbone).__name__} is not a supported backbone: expected a '
                     'ResNet (res_layers) or a ViT (layers)')


def block_kind(block: nn.Module) -> str:
    """``'bottleneck'``, ``'basic'`` or ``'vit'`` for a residual block."""
    if hasattr(block, 'conv3'):
        return 'bottleneck'
    if hasattr(block, 'conv1') and hasattr(block, 'conv2'):
        return 'basic'
    from ..core.vit import transformer_block_parts
    if transformer_block_parts(block).proj is not None:
        return 'vit'
    raise ValueError(f'cannot tell the kind of block {type(block).__name__}')


def is_training_computing_layer(module: Optional[nn.Module]) -> bool:
    """True for a computing layer in training form (called as ``layer(x, prev, next)``)."""
    return module is not None and is_training_layer(module)


def _option(backbone: nn.Module, name: str, default):
    return getattr(backbone, name, default)


def computing_layer_params(block: nn.Module, repl_backbone: nn.Module) -> Tuple[int, int]:
    """``(a_r, trainable a_r)``: parameters of the computing layer that replaces ``block``.

    Eq. 44 (BasicBlock ``2C`` coefficients + ``2C`` BN affine), eq. 47 (Bottleneck ``2B +
    2C``), eq. 50 (ViT: 2 scalar or ``2H`` head-wise coefficients for the attention
    branch; the MLP-fusion branch has none). With one neighbour or a shared coefficient the
    coefficients are halved; ``remove_only`` gives 0. The BN affine counts only if the
    removed block's last norm is affine, and is trainable only if that norm is (mm configs
    with ``norm_cfg=dict(requires_grad=False)``); a frozen block's layer is frozen.

    Args:
        block (nn.Module): the removed E2E block.
        repl_backbone (nn.Module): the RepL backbone (its ``neighbours``, ``coefficients``,
            ``remove_only``, ``head_wise``, ``synthesis_branches`` attributes).
    """
    if _option(repl_backbone, 'remove_only', False):
        return 0, 0
    if _option(repl_backbone, 'neighbours', 'both') == 'none':
        return _own_layer_params(block, repl_backbone)
    coefficients = _option(repl_backbone, 'coefficients', 'separate')
    if coefficients == 'fixed':  # fixed coefficients: alpha = beta = 1/2, not trainable
        vectors = 0
    else:
        vectors = (2 if _option(repl_backbone, 'neighbours', 'both') == 'both'
                   and coefficients == 'separate' else 1)
    frozen = not any(p.requires_grad for p in block.parameters())
    kind = block_kind(block)
    norm = None
    if kind == 'basic':
        groups, channels, norm = block.conv2.out_channels, block.conv2.out_channels, block.norm2
    elif kind == 'bottleneck':
        groups, channels, norm = block.conv2.out_channels, block.conv3.out_channels, block.norm3
    else:
        branches = _option(repl_backbone, 'synthesis_branches', ('attn', 'mlp'))
        heads = block.attn.num_heads if _option(repl_backbone, 'head_wise', False) else 1
        groups = heads if 'attn' in branches else 0
        channels = 0
    coef = vectors * groups
    affine = norm is not None and getattr(norm, 'weight', None) is not None
    norm_params = 2 * channels if affine else 0
    norm_trainable = norm_params if affine and norm.weight.requires_grad else 0
    return coef + norm_params, 0 if frozen else coef + norm_trainable


def _own_layer_params(block: nn.Module, repl_backbone: nn.Module) -> Tuple[int, int]:
    """``(a_r, trainable a_r)`` of a Table VI "no weights" layer (:mod:`repl_mm.core.own`):
    its own operator of the synthesized shape plus a CNN layer's BN affine."""
    from ..core.own import own_param_count
    frozen = not any(p.requires_grad for p in block.parameters())
    kind = block_kind(block)
    norm = None
    if kind == 'basic':
        n = own_param_count('basic', channels=block.conv2.out_channels)
        norm = block.norm2
    elif kind == 'bottleneck':
        n = own_param_count('bottleneck', channels=block.conv3.out_channels,
                            mid_channels=block.conv2.out_channels, groups=block.conv2.groups)
        norm = block.norm3
    else:
        from ..core.vit import transformer_block_parts
        parts = transformer_block_parts(block)
        n = own_param_count('vit', embed_dims=parts.proj.in_features,
                            feedforward_channels=parts.fc1.out_features,
                            branches=_option(repl_backbone, 'synthesis_branches',
                                             ('attn', 'mlp')),
                            head_wise=_option(repl_backbone, 'head_wise', False))
    if norm is not None and getattr(norm, 'weight', None) is None:
        n -= 2 * norm.num_features   # a non-affine BN
    return n, 0 if frozen else n
