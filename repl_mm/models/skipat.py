"""Skip-Attention (SkipAt), the ViT baseline of the RepL paper's Tables I and II.

Venkataramanan, Ghodrati, Asano, Porikli, Habibian, "Skip-Attention: Improving Vision
Transformers by Paying Less Attention", ICLR 2024, arXiv:2301.02240; official code
github.com/Qualcomm-AI-research/skip-attention (``model/vit_skipat.py``,
``model/uformer_utils.py``). The RepL paper cites it as [41] and compares against it on
ViT-Tiny/8 (CIFAR-10 / SVHN / STL-10, Table I) and ViT-T/S/B-16 (ImageNet, Table II).

**What SkipAt does.** A pre-norm ViT layer ``l`` is ``U = X + MSA(LN1(X))``,
``X' = U + MLP(LN2(U))``. Write ``Z_l = MSA(LN1(X))`` for the output of the multi-head
self-attention block *before the residual addition* (after the output projection, and
after layer scale where the model has one; before stochastic depth). In a skipped layer
SkipAt does not compute attention; it approximates ``Z_l`` from the previous layer's one::

    Z_l = Phi(Z_{l-1})                    (SkipAt §3, "parametric function")
    U   = X + DropPath(Z_l)
    X'  = U + MLP(LN2(U))                 (the layer's MLP is kept)

where ``Z_{l-1}`` is the previous layer's ``Z`` whether that layer computed attention or
itself skipped it (so a run of skipped layers chains ``Phi``'s, as in the official
``forward_features``).

``Phi`` (official ``LeFF``, an inverted bottleneck on the token grid)::

    Phi(Z) = ECA(FC2(GELU(DwConv_kxk(GELU(FC1(Z))))))

``FC1: d -> 2d`` (expansion ratio 2), the tokens reshaped to their ``h x w`` patch grid for
a depth-wise ``5 x 5`` convolution (padding 2), ``FC2: 2d -> d``, and efficient channel
attention (ECA, Wang et al. 2020: the token mean per channel, a 1-D convolution of kernel 3
across channels without bias, a sigmoid, a channel-wise rescaling). The official code has
no normalisation layer inside ``Phi`` (no BatchNorm, no LayerNorm); neither has this one.

**CLS token.** ``Phi`` acts on the patch tokens only (it needs the grid). The extra (class)
token rows of ``Z_l`` are those of ``Z_{l-1}``, i.e. the CLS row of the last attention
actually computed is carried through the skipped layers, as the official code does
(``torch.cat((cls_token, features_cur), dim=1)``).

**Which layers skip.** The official code skips the 0-based layers ``(3, 4, 5, 6, 7, 8)`` of
the 12-layer ViT-T/S/B (``skip_indices``), where the paper measures the highest
layer-to-layer correlation of the MSA outputs; this is the default here
(:data:`SKIPAT_DEFAULT_LAYERS`) for a 12-layer model. Other depths have no published
setting and must pass ``skip_layers``.

Two deliberate differences from the official code, both where it is ambiguous: the token
grid is the patch embedding's ``h x w`` (the official code assumes a square ``sqrt(n)``
grid), and for non-contiguous ``skip_layers`` a skipped layer reads the previous layer's
``Z`` as defined above (the official loop only supports one contiguous run).

State-dict keys: computed layers keep the stock keys; a skipped layer keeps its MLP part at
the stock keys (``layers.4.ln2.*``, ``layers.4.ffn.*``) and has ``layers.4.parametric.*``
instead of ``layers.4.ln1.*`` / ``layers.4.attn.*`` (which are not built), so a stock
checkpoint loads with only the skipped attention keys unexpected.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmpretrain.models.backbones.vision_transformer import VisionTransformer
from torch import Tensor, nn

from .vit import embed_tokens

__all__ = ['SKIPAT_DEFAULT_LAYERS', 'EfficientChannelAttention1d', 'SkipAtParametric',
           'SkipAtEncoderLayer', 'VisionTransformerSkipAt', 'check_skip_layers',
           'parametric_flops', 'msa_flops']

#: 0-based layers skipped in the 12-layer ViT-T/S/B of SkipAt (official ``skip_indices``)
SKIPAT_DEFAULT_LAYERS: Tuple[int, ...] = (3, 4, 5, 6, 7, 8)


class EfficientChannelAttention1d(nn.Module):
    """ECA on tokens (Wang et al. 2020, as in SkipAt's ``eca_layer_1d``).

    ``y = sigmoid(Conv1d_k(mean_tokens(x)))``, ``out = x * y`` per channel.

    Args:
        kernel_size (int): odd size of the 1-D convolution across channels. Default 3.
    """

    def __init__(self, kernel_size: int = 3) -> None:
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'eca kernel_size must be an odd int >= 1, got {kernel_size!r}')
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """x: ``B x n x C`` tokens."""
        y = x.mean(dim=1, keepdim=True)              # B x 1 x C
        y = torch.sigmoid(self.conv(y))              # 1-D convolution across channels
        return x * y


class SkipAtParametric(nn.Module):
    """SkipAt's parametric function ``Phi`` (official ``LeFF``; see the module docstring).

    Args:
        embed_dims (int): ``d``.
        hidden_ratio (float): ``FC1`` expands ``d`` to ``round(hidden_ratio * d)``. Default 2.
        kernel_size (int): odd size of the depth-wise convolution. Default 5.
        eca_kernel_size (int | None): kernel of the ECA convolution; ``None`` drops ECA.
            Default 3.
    """

    def __init__(self, embed_dims: int, hidden_ratio: float = 2., kernel_size: int = 5,
                 eca_kernel_size: Optional[int] = 3) -> None:
        super().__init__()
        if isinstance(hidden_ratio, bool) or not isinstance(hidden_ratio, (int, float)) \
                or hidden_ratio <= 0:
            raise ValueError(f'skip_hidden_ratio must be a number > 0, got {hidden_ratio!r}')
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) \
                or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'skip_kernel_size must be an odd int >= 1, got {kernel_size!r}')
        hidden = max(1, int(round(hidden_ratio * embed_dims)))
        self.embed_dims = embed_dims
        self.hidden_dims = hidden
        self.fc1 = nn.Linear(embed_dims, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size, padding=kernel_size // 2,
                                groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, embed_dims)
        self.eca = (EfficientChannelAttention1d(eca_kernel_size)
                    if eca_kernel_size is not None else nn.Identity())

    def forward(self, z: Tensor, grid: Tuple[int, int]) -> Tensor:
        """Args:
            z: ``B x n x d`` patch tokens of ``Z_{l-1}`` (no extra tokens).
            grid: ``(h, w)`` of the patch grid, ``h * w = n``.
        """
        b, n, _ = z.shape
        h, w = grid
        if h * w != n:
            raise ValueError(f'SkipAtParametric: {n} patch tokens do not fill a {h}x{w} grid')
        x = self.act(self.fc1(z))
        x = x.transpose(1, 2).reshape(b, self.hidden_dims, h, w)
        x = self.act(self.dwconv(x))
        x = x.flatten(2).transpose(1, 2)
        return self.eca(self.fc2(x))


class SkipAtEncoderLayer(nn.Module):
    """A transformer layer whose attention is skipped: ``Z_l = Phi(Z_{l-1})`` on the patch
    tokens (extra tokens carried over), ``U = X + DropPath(Z_l)``, ``X' = U + MLP(LN2(U))``.

    Args:
        block (nn.Module): the stock layer it replaces; its ``ln2`` and ``ffn`` are kept
            (same keys), its ``attn.out_drop`` (the layer's stochastic depth) is reused on
            the attention residual, ``ln1`` and ``attn`` are dropped.
        parametric (SkipAtParametric): ``Phi``.
    """

    def __init__(self, block: nn.Module, parametric: SkipAtParametric) -> None:
        super().__init__()
        self.ln2 = block.ln2
        self.ffn = block.ffn
        drop_path = getattr(block.attn, 'out_drop', None)
        self.drop_path = drop_path if drop_path is not None else nn.Identity()
        self.parametric = parametric

    def init_weights(self) -> None:
        """The MLP initialisation of mmpretrain's ``TransformerEncoderLayer`` (Xavier-uniform
        weights, N(0, 1e-6) biases), which this layer no longer inherits; ``Phi`` keeps the
        model's ``init_cfg`` / PyTorch defaults."""
        for m in self.ffn.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: Tensor, z_prev: Optional[Tensor] = None,
                grid: Optional[Tuple[int, int]] = None,
                num_extra_tokens: int = 0) -> Tuple[Tensor, Tensor]:
        """Returns ``(X', Z_l)``; ``z_prev`` is ``Z_{l-1}`` with its extra tokens first."""
        if z_prev is None or grid is None:
            raise ValueError('SkipAtEncoderLayer needs the previous layer\'s MSA output '
                             '(z_prev) and the patch grid; it runs inside '
                             'VisionTransformerSkipAt.forward')
        extra, patches = z_prev[:, :num_extra_tokens], z_prev[:, num_extra_tokens:]
        z = torch.cat([extra, self.parametric(patches, grid)], dim=1)
        x = x + self.drop_path(z)
        x = self.ffn(self.ln2(x), identity=x)
        return x, z


def check_skip_layers(skip_layers, num_layers: int) -> List[int]:
    """Validates ``skip_layers`` (0-based layer indices) and returns them sorted.

    ``None`` gives :data:`SKIPAT_DEFAULT_LAYERS` for a 12-layer model. Each index must be an
    int in ``[1, num_layers)``: layer 0 has no previous MSA output to reuse.
    """
    if skip_layers is None:
        if num_layers != 12:
            raise ValueError(
                f'skip_layers: SkipAt publishes a setting only for 12-layer ViTs '
                f'{list(SKIPAT_DEFAULT_LAYERS)}; this model has {num_layers} layers, pass '
                f'skip_layers explicitly (0-based indices in [1, {num_layers - 1}])')
        return list(SKIPAT_DEFAULT_LAYERS)
    if isinstance(skip_layers, (str, bytes)) or not isinstance(skip_layers, Sequence) \
            or any(isinstance(i, bool) or not isinstance(i, int) for i in skip_layers):
        raise ValueError('skip_layers must be a list of 0-based layer indices (ints), e.g. '
                         f'[3, 4, 5, 6, 7, 8], got {skip_layers!r}')
    bad = [i for i in skip_layers if not 1 <= i < num_layers]
    if bad:
        raise ValueError(f'skip_layers: {bad} out of range; allowed 1..{num_layers - 1} '
                         '(layer 0 has no previous attention output to reuse)')
    if len(set(skip_layers)) != len(skip_layers):
        raise ValueError(f'skip_layers has duplicates: {list(skip_layers)!r}')
    return sorted(skip_layers)


class VisionTransformerSkipAt(VisionTransformer):
    """SkipAt drop-in for mmpretrain's ``VisionTransformer`` (see the module docstring):
    accepts every argument of that class (arch, img_size, patch_size, out_indices, out_type,
    with_cls_token, final_norm, pre_norm, drop_rate, drop_path_rate, qkv_bias, norm_cfg,
    frozen_stages, interpolate_mode, layer_scale_init_value, layer_cfgs, init_cfg, ...) plus:

    Args:
        skip_layers (Sequence[int], optional): 0-based layers whose attention is skipped;
            ``None`` (default) is SkipAt's setting ``(3, 4, 5, 6, 7, 8)`` for 12 layers.
            ``[]`` skips nothing (the stock ViT).
        skip_hidden_ratio (float): expansion of ``Phi``'s ``FC1``. Default 2 (SkipAt).
        skip_kernel_size (int): depth-wise kernel of ``Phi``. Default 5 (SkipAt).
        skip_eca (bool): ECA at the end of ``Phi``. Default True (SkipAt).
    """

    def __init__(self, *args, skip_layers: Optional[Sequence[int]] = None,
                 skip_hidden_ratio: float = 2., skip_kernel_size: int = 5,
                 skip_eca: bool = True, **kwargs) -> None:
        if not isinstance(skip_eca, bool):
            raise ValueError(f'skip_eca must be True or False, got {skip_eca!r}')
        super().__init__(*args, **kwargs)
        self.skip_layers = check_skip_layers(skip_layers, len(self.layers))
        self.skip_hidden_ratio = skip_hidden_ratio
        self.skip_kernel_size = skip_kernel_size
        self.skip_eca = skip_eca
        skipped = set(self.skip_layers)
        for i in self.skip_layers:
            block = self.layers[i]
            if not all(hasattr(block, n) for n in ('ln2', 'ffn', 'attn')):
                raise ValueError(f'{type(self).__name__}: layer {i} '
                                 f'({type(block).__name__}) is not a pre-norm transformer '
                                 'layer with ln2 / attn / ffn')
            self.layers[i] = SkipAtEncoderLayer(block, SkipAtParametric(
                self.embed_dims, skip_hidden_ratio, skip_kernel_size,
                3 if skip_eca else None))
        # the layers whose MSA output a skipped layer reuses (the computed ones among them):
        # take stochastic depth out of their attention module so that Z is read before it
        self.msa_sources: List[int] = sorted(
            i - 1 for i in skipped if i - 1 not in skipped)
        self.msa_drop_paths = nn.ModuleDict()
        for i in self.msa_sources:
            attn = self.layers[i].attn
            if getattr(attn, 'v_shortcut', False):
                raise ValueError(f'{type(self).__name__}: layer {i} uses v_shortcut; its MSA '
                                 'output is not a single residual branch')
            drop_path = getattr(attn, 'out_drop', None)
            self.msa_drop_paths[str(i)] = drop_path if drop_path is not None else nn.Identity()
            attn.out_drop = nn.Identity()
        if self.frozen_stages > 0:
            self._freeze_stages()  # frozen stages also freeze their SkipAt layers

    def _source_layer(self, i: int, x: Tensor) -> Tuple[Tensor, Tensor]:
        """A computed layer whose ``Z`` is needed: the stock ``TransformerEncoderLayer``
        forward (``x + attn(ln1(x))``, then ``ffn(ln2(x), identity=x)``), with ``Z`` read
        before stochastic depth."""
        block = self.layers[i]
        z = block.attn(block.ln1(x))
        x = x + self.msa_drop_paths[str(i)](z)
        x = block.ffn(block.ln2(x), identity=x)
        return x, z

    def forward(self, x: Tensor):
        """mmpretrain 1.2.0 ``VisionTransformer.forward`` with SkipAt's layer loop."""
        x, patch_resolution = embed_tokens(self, x)

        z: Optional[Tensor] = None
        outs = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, SkipAtEncoderLayer):
                x, z = layer(x, z, tuple(patch_resolution), self.num_extra_tokens)
            elif str(i) in self.msa_drop_paths:
                x, z = self._source_layer(i, x)
            else:
                x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, patch_resolution))
        return tuple(outs)


def parametric_flops(embed_dims: int, tokens: int, hidden_ratio: float = 2.,
                     kernel_size: int = 5, eca_kernel_size: Optional[int] = 3) -> int:
    """Multiply-add FLOPs (2 per MAC) of ``Phi`` for one sample with ``tokens`` patch tokens:
    ``FC1 + DwConv + FC2 (+ ECA)`` = ``2nd h + 2n h k^2 + 2n h d (+ 2 d k_eca)``."""
    h = max(1, int(round(hidden_ratio * embed_dims)))
    flops = 2 * tokens * embed_dims * h + 2 * tokens * h * kernel_size ** 2 \
        + 2 * tokens * h * embed_dims
    if eca_kernel_size is not None:
        flops += 2 * embed_dims * eca_kernel_size
    return flops


def msa_flops(embed_dims: int, tokens: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of one MSA block for one sample of ``tokens`` tokens
    (all of them, extra tokens included): QKV ``6nd^2`` + ``QK^T`` and ``AV`` ``4n^2 d`` +
    projection ``2nd^2`` = ``8nd^2 + 4n^2 d``."""
    return 8 * tokens * embed_dims ** 2 + 4 * tokens ** 2 * embed_dims

