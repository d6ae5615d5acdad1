"""The computing layer for Vision Transformers (paper §III-C, deploy form §IV-D1e).

A pre-norm ViT block (eq. 18) is ``U = X + MSA(LN1(X))``, ``X' = U + MLP(LN2(U))``. RepL
removes block ``r`` and puts a :class:`ViTComputingLayer` ``g_r`` in its place. Its operators
are synthesized at every forward pass from the two retained neighbours ``f_{r-1}`` and
``f_{r+1}``, which the backbone passes in explicitly (like eq. 17); the layer keeps no
reference to them.

Two branches, composed sequentially like the block they replace (eq. 18)::

    U = X + DropPath(Delta_attn(X))            attention-projection branch (eq. 20-24)
    Y = U + DropPath(Delta_mlp(U))             MLP-fusion branch (eq. 25-27)

**Attention-projection branch**, ``head_wise=False`` ("scalar", eq. 20-21)::

    W_hat = alpha W^proj_{r-1} + beta W^proj_{r+1}
    b_hat = alpha b^proj_{r-1} + beta b^proj_{r+1}
    Delta_attn(X) = X W_hat^T + b_hat                      2 parameters per layer (eq. 50)

``head_wise=True`` (eq. 22-24)::

    W_hat[:, C_h] = alpha_h norm(W^proj_{r-1})[:, C_h] + beta_h norm(W^proj_{r+1})[:, C_h]
    b_hat = (b^proj_{r-1} + b^proj_{r+1}) / 2
    Delta_attn(X) = d^{-1/2} LN_{r-1,1}(X) W_hat^T + b_hat  2H parameters per layer (eq. 50)

``norm`` is the row normalisation of eq. 22 and ``C_h`` the input columns of ``W^proj`` that
carry head ``h`` (the concatenated head outputs).

**MLP-fusion branch** (eq. 25-27), no parameters (fixed 1/2 weights)::

    W_hat_k = (norm(W^mlp_{r-1,k}) + norm(W^mlp_{r+1,k})) / 2,   k = 1, 2
    b_hat_k = (b^mlp_{r-1,k} + b^mlp_{r+1,k}) / 2
    Delta_mlp(X) = GELU(LN_{r-1,2}(X) W_hat_1^T + b_hat_1) W_hat_2^T + b_hat_2

The LayerNorms are borrowed from the left neighbour (from the right one when
``neighbours='next'``, so that variant uses no information of the preceding block), under the
same stop-gradient switch as the synthesis weights (eq. 30). With ``neighbours='prev'`` or
``'next'`` the per-head bias and the MLP weights are those of the one neighbour used.

``fold(prev, next)`` (called by the owner's ``switch_to_deploy()``, see
:mod:`repl_mm.core.layer`) folds each branch into fixed modules (eq. 33): the attention branch
becomes an ``nn.Linear`` with ``W = c_scale W_hat`` (``c_scale = d^{-1/2}`` for the per-head
form, 1 for the scalar form) and bias ``b_hat``, preceded by a copy of the borrowed LayerNorm;
the MLP branch becomes ``LayerNorm -> Linear -> GELU -> Linear``. Eq. 33 writes ``c_scale``
on the bias too; eq. 24 scales only the matrix product, so the exact fold keeps ``b_hat``
unscaled (the two agree for the scalar form, where ``c_scale = 1``).
"""
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layer import ComputingLayer
from .options import SYNTHESIS_BRANCHES, check_synthesis_branches
from .synthesis import (
    SynthesisCoefficients,
    check_repl_options,
    normalize_rows,
    recompute_in_backward,
    stop_gradient,
    used_neighbours,
)

__all__ = ['SYNTHESIS_BRANCHES', 'ViTBlockParts', 'transformer_block_parts',
           'check_synthesis_branches', 'ViTComputingLayer']


class ViTBlockParts(NamedTuple):
    """The parts of a pre-norm transformer block (eq. 18) that RepL reads.

    ``ln1``/``ln2``: the LayerNorms before attention and MLP; ``proj``: the attention output
    projection ``W^proj`` (eq. 19); ``fc1``/``fc2``: the two MLP linears ``W^mlp_1``,
    ``W^mlp_2`` (eq. 25). A part the block does not have is None.
    """
    ln1: Optional[nn.Module]
    proj: Optional[nn.Linear]
    ln2: Optional[nn.Module]
    fc1: Optional[nn.Linear]
    fc2: Optional[nn.Linear]


def _first_attr(module: nn.Module, names: Sequence[str]) -> Optional[nn.Module]:
    for name in names:
        found = getattr(module, name, None)
        if isinstance(found, nn.Module):
            return found
    return None


def transformer_block_parts(block: nn.Module) -> ViTBlockParts:
    """Finds the RepL-relevant parts of a transformer block by attribute name.

    Understands the mm layout (``ln1``, ``attn.proj``, ``ln2``, an mmcv ``FFN`` under
    ``ffn`` whose two ``nn.Linear`` are ``W^mlp_1``, ``W^mlp_2``) and the timm layout
    (``norm1``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``). Missing parts are None;
    :meth:`ViTComputingLayer.check_neighbour` says which ones a configuration needs.
    """
    ln1 = _first_attr(block, ('ln1', 'norm1'))
    ln2 = _first_attr(block, ('ln2', 'norm2'))
    attn = getattr(block, 'attn', None)
    proj = getattr(attn, 'proj', None) if attn is not None else None
    if not isinstance(proj, nn.Linear):
        proj = None
    fc1 = fc2 = None
    mlp = _first_attr(block, ('ffn', 'mlp'))
    if mlp is not None:
        linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
        if len(linears) == 2 and linears[0].out_features == linears[1].in_features:
            fc1, fc2 = linears
    return ViTBlockParts(ln1, proj, ln2, fc1, fc2)


def _average(tensors: List[Tensor]) -> Tensor:
    """The fixed 1/2 weights of eq. 23, 25 and 26 (the tensor itself for one neighbour)."""
    return tensors[0] if len(tensors) == 1 else sum(tensors) / len(tensors)


class ViTComputingLayer(ComputingLayer):
    """Computing layer ``g_r`` replacing one transformer block (paper §III-C).

    Args:
        embed_dims (int): ``d``, the token width.
        num_heads (int): ``H``, the number of attention heads (per-head synthesis, eq. 22).
        feedforward_channels (int): hidden width of the MLP branch (eq. 25).
        synthesis_branches (Sequence[str]): ``('attn', 'mlp')`` (default, Table VI "RepL"),
            ``('attn',)`` or ``('mlp',)`` (Table VI ablations).
        head_wise (bool): per-head synthesis with row normalisation and the left
            neighbour's ``LN_1`` (eq. 22-24) instead of the scalar form (eq. 20-21).
            Default False.
        neighbours (str): ``'both'`` (default), ``'prev'`` or ``'next'`` (Table VII).
        coefficients (str): ``'separate'`` alpha and beta (default) or one ``'shared'``
            coefficient with ``beta = 1 - alpha`` (Table XVI).
        stop_grad (bool): stop-gradient on every neighbour tensor read by the layer
            (weights, biases, LayerNorm affine; eq. 30). Default True.
        drop_path (nn.Module, optional): stochastic-depth module applied to each residual
            branch; the backbone passes the removed block's (its drop-path rate).
        deploy (bool): build the static deploy form directly (eq. 33).
        norm_eps (float): epsilon of the deploy-form LayerNorms (the borrowed LN's eps).
        eps (float): epsilon of the row normalisation (eq. 22).

    Trainable parameters (eq. 50): with the attention branch ``2`` (scalar) or ``2H``
    (per-head), halved for ``coefficients='shared'`` or a single neighbour; with the MLP
    branch only, none.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 synthesis_branches: Sequence[str] = SYNTHESIS_BRANCHES,
                 head_wise: bool = False, neighbours: str = 'both',
                 coefficients: str = 'separate', stop_grad: bool = True,
                 drop_path: Optional[nn.Module] = None, deploy: bool = False,
                 norm_eps: float = 1e-6, eps: float = 1e-5) -> None:
        super().__init__()
        self.synthesis_branches = check_synthesis_branches(synthesis_branches)
        check_repl_options(neighbours, coefficients, head_wise=head_wise, stop_grad=stop_grad,
                           deploy=deploy)
        if head_wise and embed_dims % num_heads:
            raise ValueError(f'head_wise=True needs embed_dims ({embed_dims}) divisible by '
                             f'num_heads ({num_heads})')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.feedforward_channels = feedforward_channels
        self.head_wise = head_wise
        self.neighbours = neighbours
        self.coefficients = coefficients
        self.stop_grad = stop_grad
        self.deploy = deploy
        self.norm_eps = norm_eps
        self.eps = eps
        # c_scale of eq. 33: the d^{-1/2} of eq. 24 for the per-head form
        self.c_scale = embed_dims ** -0.5 if head_wise else 1.0
        self.drop_path = drop_path if drop_path is not None else nn.Identity()
        if deploy:
            self._build_deploy_modules()
        elif 'attn' in self.synthesis_branches:
            self.synthesis = SynthesisCoefficients(num_heads if head_wise else 1, neighbours,
                                                   coefficients)

    @property
    def uses_prev(self) -> bool:
        return 'prev' in used_neighbours(self.neighbours)

    @property
    def uses_next(self) -> bool:
        return 'next' in used_neighbours(self.neighbours)

    @property
    def needs_ln1(self) -> bool:
        return 'attn' in self.synthesis_branches and self.head_wise

    @property
    def needs_mlp(self) -> bool:
        return 'mlp' in self.synthesis_branches

    # --- neighbours ------------------------------------------------------------------------
    def check_neighbour(self, block: nn.Module, side: str = 'neighbour') -> ViTBlockParts:
        """Checks that ``block`` has every part this configuration reads, with the layer's
        shapes; returns its parts.

        Raises:
            ValueError: naming the missing or mismatched part.
        """
        parts = transformer_block_parts(block)
        d, h = self.embed_dims, self.feedforward_channels
        need = {}
        if 'attn' in self.synthesis_branches:
            need['proj (attn.proj)'] = (parts.proj, (d, d))
        if self.needs_ln1:
            need['ln1'] = (parts.ln1, None)
        if self.needs_mlp:
            need['ln2'] = (parts.ln2, None)
            need['fc1 (first MLP linear)'] = (parts.fc1, (h, d))
            need['fc2 (second MLP linear)'] = (parts.fc2, (d, h))
        for name, (module, shape) in need.items():
            if module is None:
                raise ValueError(
                    f'{type(self).__name__}: the {side} block ({type(block).__name__}) has no '
                    f'{name}, which synthesis_branches={self.synthesis_branches} with '
                    f'head_wise={self.head_wise} needs (a pre-norm block with ln1/norm1, '
                    'attn.proj, ln2/norm2 and a two-linear ffn/mlp)')
            if shape is None:
                if not isinstance(module, nn.LayerNorm) or module.normalized_shape != (d,):
                    raise ValueError(f'{type(self).__name__}: the {side} block\'s {name} must '
                                     f'be an nn.LayerNorm over {d} channels, got {module}')
            elif tuple(module.weight.shape) != shape:
                raise ValueError(
                    f'{type(self).__name__}: the {side} block\'s {name} weight has shape '
                    f'{tuple(module.weight.shape)}, but this computing layer needs {shape} '
                    '(both neighbours must have the removed block\'s widths)')
        return parts

    def _sg(self, t: Optional[Tensor]) -> Optional[Tensor]:
        return None if t is None else stop_gradient(t, self.stop_grad)

    def _bias(self, linear: nn.Linear) -> Tensor:
        b = linear.bias
        if b is None:
            return linear.weight.new_zeros(linear.out_features)
        return self._sg(b)

    def synthesize(self, prev: nn.Module, next: nn.Module) -> Dict[str, Tensor]:
        """The synthesized operators of eq. 20, 22-23 and 25-26 from the neighbour blocks.

        Returns a dict with ``attn_weight`` (already multiplied by ``c_scale``, eq. 33),
        ``attn_bias``, the borrowed ``ln1_*`` / ``ln2_*`` affine and ``ln*_eps``, and
        ``fc1_*`` / ``fc2_*`` for the MLP branch, as the configuration needs.
        """
        used = [p for p, on in ((prev, self.uses_prev), (next, self.uses_next)) if on]
        if any(p is None for p in used):
            raise ValueError(f'{type(self).__name__} in training form needs its neighbours: '
                             'call it as layer(x, prev, next)')
        p = transformer_block_parts(prev) if self.uses_prev else None
        n = transformer_block_parts(next) if self.uses_next else None
        parts = [q for q in (p, n) if q is not None]
        src = p if p is not None else n  # LayerNorms: the left neighbour's when it is used
        op: Dict[str, Tensor] = {}
        if 'attn' in self.synthesis_branches:
            if self.head_wise:  # eq. 22-23: row-normalised, coefficients per head column block
                w = self.synthesis(
                    None if p is None else normalize_rows(self._sg(p.proj.weight), self.eps),
                    None if n is None else normalize_rows(self._sg(n.proj.weight), self.eps),
                    dim=1)
                op['attn_weight'] = self.c_scale * w
                op['attn_bias'] = _average([self._bias(q.proj) for q in parts])
                self._borrow_norm(op, 'ln1', src.ln1)
            else:  # eq. 20: one alpha, one beta for weight and bias
                op['attn_weight'] = self.synthesis(
                    None if p is None else self._sg(p.proj.weight),
                    None if n is None else self._sg(n.proj.weight), dim=0)
                op['attn_bias'] = self.synthesis(
                    None if p is None else self._bias(p.proj),
                    None if n is None else self._bias(n.proj), dim=0)
        if self.needs_mlp:  # eq. 25-26
            for k in ('fc1', 'fc2'):
                op[f'{k}_weight'] = _average(
                    [normalize_rows(self._sg(getattr(q, k).weight), self.eps) for q in parts])
                op[f'{k}_bias'] = _average([self._bias(getattr(q, k)) for q in parts])
            self._borrow_norm(op, 'ln2', src.ln2)
        return op

    def _borrow_norm(self, op: Dict[str, Optional[Tensor]], name: str,
                     ln: nn.LayerNorm) -> None:
        """The borrowed LayerNorm of eq. 24 / eq. 27 (affine under stop-gradient)."""
        op[f'{name}_weight'] = self._sg(ln.weight)
        op[f'{name}_bias'] = self._sg(ln.bias)
        op[f'{name}_eps'] = ln.eps

    # --- forward ---------------------------------------------------------------------------
    def _train_forward(self, x: Tensor, op: Dict[str, Tensor]) -> Tensor:
        d = (self.embed_dims,)
        if 'attn_weight' in op:  # eq. 21 / eq. 24
            h = (F.layer_norm(x, d, op['ln1_weight'], op['ln1_bias'], op['ln1_eps'])
                 if self.head_wise else x)
            x = x + self.drop_path(F.linear(h, op['attn_weight'], op['attn_bias']))
        if 'fc1_weight' in op:  # eq. 27
            h = F.layer_norm(x, d, op['ln2_weight'], op['ln2_bias'], op['ln2_eps'])
            h = F.gelu(F.linear(h, op['fc1_weight'], op['fc1_bias']))
            x = x + self.drop_path(F.linear(h, op['fc2_weight'], op['fc2_bias']))
        return x

    def _deploy_forward(self, x: Tensor) -> Tensor:
        if 'attn' in self.synthesis_branches:
            x = x + self.drop_path(self.proj(self.ln1(x)))
        if 'mlp' in self.synthesis_branches:
            x = x + self.drop_path(self.fc2(F.gelu(self.fc1(self.ln2(x)))))
        return x

    def forward(self, x: Tensor, prev: Optional[nn.Module] = None,
                next: Optional[nn.Module] = None) -> Tensor:
        """``g_r(X)``: the attention branch then the MLP branch, each residual (eq. 21, 24, 27).

        Args:
            x (Tensor): ``(B, T, d)`` tokens, the output of ``f_{r-1}``.
            prev (nn.Module): the retained left neighbour block (training form only).
            next (nn.Module): the retained right neighbour block (training form only).
        """
        if self.deploy:
            return self._deploy_forward(x)
        self._require_neighbours(prev, next)
        if not self.recompute_synthesis:  # an own operator (core.own): nothing to recompute
            return self._train_forward(x, self.synthesize(prev, next))
        return self._train_forward(x, recompute_in_backward(self.synthesize, prev, next))

    #: recompute the synthesis in backward (False for layers that own their operator)
    recompute_synthesis = True

    # --- deploy ----------------------------------------------------------------------------
    def _build_deploy_modules(self) -> None:
        d, h = self.embed_dims, self.feedforward_channels
        if 'attn' in self.synthesis_branches:
            self.ln1 = nn.LayerNorm(d, eps=self.norm_eps) if self.head_wise else nn.Identity()
            self.proj = nn.Linear(d, d)
        if 'mlp' in self.synthesis_branches:
            self.ln2 = nn.LayerNorm(d, eps=self.norm_eps)
            self.fc1 = nn.Linear(d, h)
            self.fc2 = nn.Linear(h, d)

    @torch.no_grad()
    def fold(self, prev: nn.Module, next: nn.Module) -> None:
        """Folds the synthesized operators into fixed modules (eq. 33).

        Afterwards the layer holds ``proj`` (``W = c_scale W_hat``, ``b = b_hat``) with its
        own copy ``ln1`` of the borrowed LayerNorm (per-head form), and ``ln2``, ``fc1``,
        ``fc2`` for the MLP branch; no synthesis coefficients and no reference to the
        neighbours. Outputs are unchanged up to float rounding.
        """
        if self.deploy:
            return
        op = {k: (v.detach().clone() if isinstance(v, Tensor) else v)
              for k, v in self.synthesize(prev, next).items()}
        ref = op['attn_weight'] if 'attn_weight' in op else op['fc1_weight']
        for name in ('synthesis', 'operator'):  # coefficients, or an own operator (core.own)
            if hasattr(self, name):
                delattr(self, name)
        self.deploy = True
        self._build_deploy_modules()
        self.to(device=ref.device, dtype=ref.dtype)
        if 'attn' in self.synthesis_branches:
            self.proj.weight.copy_(op['attn_weight'])
            self.proj.bias.copy_(op['attn_bias'])
            if self.head_wise:
                self._load_norm(self.ln1, op, 'ln1')
        if 'mlp' in self.synthesis_branches:
            self._load_norm(self.ln2, op, 'ln2')
            for k in ('fc1', 'fc2'):
                getattr(self, k).weight.copy_(op[f'{k}_weight'])
                getattr(self, k).bias.copy_(op[f'{k}_bias'])

    def _load_norm(self, ln: nn.LayerNorm, op: Dict[str, Optional[Tensor]], name: str) -> None:
        """Copies the borrowed LayerNorm into the layer's own (identity affine if it had none)."""
        ln.eps = self.norm_eps = float(op[f'{name}_eps'])
        if op[f'{name}_weight'] is not None:
            ln.weight.copy_(op[f'{name}_weight'])
        if op[f'{name}_bias'] is not None:
            ln.bias.copy_(op[f'{name}_bias'])

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'synthesis_branches={self.synthesis_branches}, head_wise={self.head_wise}, '
                f'neighbours={self.neighbours!r}, coefficients={self.coefficients!r}, '
                f'stop_grad={self.stop_grad}, deploy={self.deploy}')
