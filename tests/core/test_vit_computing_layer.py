"""ViTComputingLayer (paper §III-C, eq. 20-27, 30, 33, 50) against hand-written formulas.

The neighbour blocks here are plain torch pre-norm blocks in the timm layout (``norm1``,
``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``), so these tests need no mm package; the mm
layout is covered by tests/models/test_vit_repl.py.
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repl_mm.core.plan import removal_plan
from repl_mm.core.vit import ViTComputingLayer, transformer_block_parts

D, H, HID, T, B = 24, 3, 48, 5, 2


class Attn(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)


class Mlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, d)


class Block(nn.Module):
    """Only the parameters matter here: the computing layer never runs a neighbour."""

    def __init__(self, d=D, hidden=HID):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = Attn(d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = Mlp(d, hidden)
        with torch.no_grad():  # non-trivial LayerNorm affine so borrowing is visible
            for p in self.parameters():
                p.add_(torch.randn_like(p) * 0.1)


def make(seed=0, **kwargs):
    torch.manual_seed(seed)
    prev, nxt = Block(), Block()
    layer = ViTComputingLayer(D, H, HID, **kwargs)
    with torch.no_grad():  # coefficients away from their 0.5 init
        for p in layer.parameters():
            p.copy_(torch.rand_like(p) + 0.25)
    x = torch.randn(B, T, D)
    return layer, prev, nxt, x


def rownorm(w, eps=1e-5):
    return w / torch.sqrt((w ** 2).sum(dim=1, keepdim=True) + eps)


def ln(x, norm):
    return F.layer_norm(x, (D,), norm.weight, norm.bias, norm.eps)


def attn_scalar_ref(x, layer, prev, nxt):
    a, b = layer.synthesis.alpha.item(), layer.synthesis.beta.item()
    w = a * prev.attn.proj.weight + b * nxt.attn.proj.weight        # eq. 20
    bias = a * prev.attn.proj.bias + b * nxt.attn.proj.bias
    return x + x @ w.t() + bias                                     # eq. 21


def attn_head_ref(x, layer, prev, nxt):
    a, b = layer.synthesis.alpha, layer.synthesis.beta
    wp, wn = rownorm(prev.attn.proj.weight), rownorm(nxt.attn.proj.weight)  # eq. 22
    dh = D // H
    w = torch.cat([a[h] * wp[:, h * dh:(h + 1) * dh] + b[h] * wn[:, h * dh:(h + 1) * dh]
                   for h in range(H)], dim=1)
    bias = (prev.attn.proj.bias + nxt.attn.proj.bias) / 2           # eq. 23
    return x + D ** -0.5 * ln(x, prev.norm1) @ w.t() + bias         # eq. 24


def mlp_ref(x, prev, nxt):
    w1 = (rownorm(prev.mlp.fc1.weight) + rownorm(nxt.mlp.fc1.weight)) / 2   # eq. 25
    w2 = (rownorm(prev.mlp.fc2.weight) + rownorm(nxt.mlp.fc2.weight)) / 2
    b1 = (prev.mlp.fc1.bias + nxt.mlp.fc1.bias) / 2                         # eq. 26
    b2 = (prev.mlp.fc2.bias + nxt.mlp.fc2.bias) / 2
    hid = F.gelu(ln(x, prev.norm2) @ w1.t() + b1)                           # eq. 27
    return x + hid @ w2.t() + b2


def close(a, b, rtol=1e-5):
    assert a.shape == b.shape
    err = ((a - b).abs().max() / b.abs().max()).item()
    assert err < rtol, err


def test_removal_plan_for_vit_depths():
    assert removal_plan([12], 4) == [[3, 7]]          # blocks 4 and 8 (1-based)
    assert removal_plan([24], 4) == [[3, 7, 11, 15, 19]]
    assert removal_plan([8], 4) == [[3]]               # 'small' arch: block 8 is the last
    assert removal_plan([12], 6) == [[5]]
    assert removal_plan([12], 2) == [[1, 3, 5, 7, 9]]
    assert removal_plan([12], None) == [[]]


def test_block_parts_timm_layout():
    blk = Block()
    parts = transformer_block_parts(blk)
    assert parts.ln1 is blk.norm1 and parts.ln2 is blk.norm2
    assert parts.proj is blk.attn.proj
    assert parts.fc1 is blk.mlp.fc1 and parts.fc2 is blk.mlp.fc2
    empty = transformer_block_parts(nn.Linear(2, 2))
    assert all(p is None for p in empty)


def test_scalar_attention_branch_is_eq_20_21():
    layer, prev, nxt, x = make(synthesis_branches=('attn',), head_wise=False)
    close(layer(x, prev, nxt), attn_scalar_ref(x, layer, prev, nxt))


def test_per_head_attention_branch_is_eq_22_24():
    layer, prev, nxt, x = make(synthesis_branches=('attn',), head_wise=True)
    assert layer.synthesis.alpha.shape == (H,)
    close(layer(x, prev, nxt), attn_head_ref(x, layer, prev, nxt))


def test_mlp_branch_is_eq_25_27():
    layer, prev, nxt, x = make(synthesis_branches=('mlp',))
    close(layer(x, prev, nxt), mlp_ref(x, prev, nxt))


@pytest.mark.parametrize('head_wise', [False, True])
def test_full_design_is_attention_then_mlp(head_wise):
    layer, prev, nxt, x = make(head_wise=head_wise)
    ref = (attn_head_ref if head_wise else attn_scalar_ref)(x, layer, prev, nxt)
    close(layer(x, prev, nxt), mlp_ref(ref, prev, nxt))


def test_one_neighbour_and_shared_coefficients():
    layer, prev, nxt, x = make(synthesis_branches=('attn',), neighbours='prev')
    a = layer.synthesis.alpha.item()
    close(layer(x, prev, nxt), x + x @ (a * prev.attn.proj.weight).t()
          + a * prev.attn.proj.bias)
    layer, prev, nxt, x = make(synthesis_branches=('attn',), coefficients='shared')
    a = layer.synthesis.alpha.item()
    w = a * prev.attn.proj.weight + (1 - a) * nxt.attn.proj.weight
    bias = a * prev.attn.proj.bias + (1 - a) * nxt.attn.proj.bias
    close(layer(x, prev, nxt), x + x @ w.t() + bias)
    # 'next': weights and the borrowed LayerNorm come from the right neighbour only
    layer, prev, nxt, x = make(synthesis_branches=('mlp',), neighbours='next')
    hid = F.gelu(ln(x, nxt.norm2) @ rownorm(nxt.mlp.fc1.weight).t() + nxt.mlp.fc1.bias)
    close(layer(x, prev, nxt), x + hid @ rownorm(nxt.mlp.fc2.weight).t() + nxt.mlp.fc2.bias)


@pytest.mark.parametrize('kwargs,count', [
    (dict(head_wise=False), 2),                                   # eq. 50: a = 2
    (dict(head_wise=True), 2 * H),                                # eq. 50: a = 2H
    (dict(head_wise=False, coefficients='shared'), 1),            # Table XVI
    (dict(head_wise=True, coefficients='shared'), H),
    (dict(head_wise=True, neighbours='next'), H),
    (dict(synthesis_branches=('attn',)), 2),
    (dict(synthesis_branches=('mlp',), head_wise=True), 0),       # fixed 1/2 weights
])
def test_trainable_parameter_count_eq_50(kwargs, count):
    layer = ViTComputingLayer(D, H, HID, **kwargs)
    assert sum(p.numel() for p in layer.parameters() if p.requires_grad) == count


def neighbour_tensors(block):
    return [block.norm1.weight, block.norm1.bias, block.attn.proj.weight, block.attn.proj.bias,
            block.norm2.weight, block.norm2.bias, block.mlp.fc1.weight, block.mlp.fc1.bias,
            block.mlp.fc2.weight, block.mlp.fc2.bias]


@pytest.mark.parametrize('head_wise', [False, True])
def test_stop_gradient_eq_30(head_wise):
    for stop_grad in (True, False):
        layer, prev, nxt, x = make(head_wise=head_wise, stop_grad=stop_grad)
        layer(x, prev, nxt).pow(2).sum().backward()
        assert layer.synthesis.alpha.grad is not None and layer.synthesis.alpha.grad.abs().sum() > 0
        assert layer.synthesis.beta.grad.abs().sum() > 0
        used = [prev.attn.proj.weight, nxt.attn.proj.weight, prev.attn.proj.bias,
                prev.mlp.fc1.weight, nxt.mlp.fc2.weight, prev.norm2.weight]
        if head_wise:
            used.append(prev.norm1.weight)
        if stop_grad:
            for blk in (prev, nxt):
                assert all(t.grad is None for t in neighbour_tensors(blk))
        else:
            assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in used)
        assert nxt.norm1.weight.grad is None  # the LayerNorms are borrowed from the left


CONFIGS = [dict(synthesis_branches=b, head_wise=hw, neighbours=n)
           for b in (('attn',), ('mlp',), ('attn', 'mlp'))
           for hw in (False, True)
           for n in ('both', 'prev', 'next')]


@pytest.mark.parametrize('kwargs', CONFIGS, ids=lambda k: '-'.join(map(str, k.values())))
def test_deploy_equivalence_eq_33(kwargs):
    layer, prev, nxt, x = make(**kwargs)
    layer.eval()
    ref = layer(x, prev, nxt)
    deployed = copy.deepcopy(layer)
    deployed.fold(prev, nxt)
    assert deployed.deploy and not hasattr(deployed, 'synthesis')
    close(deployed(x), ref)
    # no neighbours needed any more, and a neighbour change does not reach it
    with torch.no_grad():
        prev.attn.proj.weight.mul_(3)
        prev.mlp.fc1.weight.add_(1)
        nxt.attn.proj.weight.mul_(3)
        nxt.mlp.fc2.weight.add_(1)
    close(deployed(x, prev, nxt), ref)
    # deploy=True builds the same modules: the switched state_dict loads strictly
    fresh = ViTComputingLayer(D, H, HID, deploy=True, **kwargs).eval()
    fresh.load_state_dict(deployed.state_dict(), strict=True)
    close(fresh(x), ref)


def test_deploy_weights_are_c_scale_times_w_hat():
    layer, prev, nxt, x = make(synthesis_branches=('attn',), head_wise=True)
    w_hat = layer.synthesize(prev, nxt)['attn_weight'] / layer.c_scale
    assert layer.c_scale == pytest.approx(D ** -0.5)
    layer.fold(prev, nxt)
    torch.testing.assert_close(layer.proj.weight, D ** -0.5 * w_hat)
    torch.testing.assert_close(layer.ln1.weight, prev.norm1.weight)
    assert layer.ln1.eps == prev.norm1.eps
    assert sorted(layer.state_dict()) == ['ln1.bias', 'ln1.weight', 'proj.bias', 'proj.weight']


def test_train_form_state_dict_and_deepcopy():
    layer, prev, nxt, x = make(head_wise=True)
    assert sorted(layer.state_dict()) == ['synthesis.alpha', 'synthesis.beta']
    clone = copy.deepcopy(layer)
    close(clone(x, prev, nxt), layer(x, prev, nxt))
    assert not any(m is prev or m is nxt for m in clone.modules())


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match='synthesis_branches'):
        ViTComputingLayer(D, H, HID, synthesis_branches='attn')
    with pytest.raises(ValueError, match='synthesis_branches'):
        ViTComputingLayer(D, H, HID, synthesis_branches=())
    with pytest.raises(ValueError, match='synthesis_branches'):
        ViTComputingLayer(D, H, HID, synthesis_branches=('attn', 'conv'))
    with pytest.raises(ValueError, match='synthesis_branches'):
        ViTComputingLayer(D, H, HID, synthesis_branches=('mlp', 'mlp'))
    with pytest.raises(ValueError, match='head_wise'):
        ViTComputingLayer(D, H, HID, head_wise='yes')
    with pytest.raises(ValueError, match='neighbours'):
        ViTComputingLayer(D, H, HID, neighbours='left')
    with pytest.raises(ValueError, match='coefficients'):
        ViTComputingLayer(D, H, HID, coefficients='one')
    with pytest.raises(ValueError, match="neighbours='both'"):
        ViTComputingLayer(D, H, HID, coefficients='shared', neighbours='prev')
    with pytest.raises(ValueError, match='num_heads'):
        ViTComputingLayer(D, 5, HID, head_wise=True)
    layer, prev, nxt, x = make(head_wise=True)
    with pytest.raises(ValueError, match='neighbours'):
        layer(x)
    with pytest.raises(ValueError, match='proj'):
        layer.check_neighbour(nn.Linear(D, D), 'left')
    with pytest.raises(ValueError, match='fc1'):
        layer.check_neighbour(Block(hidden=2 * HID), 'right')
    bad = Block()
    bad.norm1 = nn.BatchNorm1d(D)
    with pytest.raises(ValueError, match='LayerNorm'):
        layer.check_neighbour(bad, 'left')
    layer.check_neighbour(Block(), 'left')  # a matching block passes
