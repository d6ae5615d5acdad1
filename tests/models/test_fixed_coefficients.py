"""coefficients='fixed' (the "fixed coefficients" ablation, ours; Table VI's "no weights" is
neighbours='none', tests/models/test_no_weights.py): no trainable synthesis coefficients
(alpha = beta = 1/2, or 1 with one neighbour), the BN of a CNN computing layer stays; the
trainable parameters are eq. 44 / 47 / 50 minus the 2C / 2B / 2H coefficients, and the
deploy fold (eq. 32-33) is exact, for BasicBlock, Bottleneck and ViT backbones."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from repl_mm.core.cnn import BasicBlockComputingLayer, BottleneckComputingLayer
from repl_mm.core.synthesis import SynthesisCoefficients, check_repl_options, normalize_rows
from repl_mm.core.vit import ViTComputingLayer


def _build(cfg: dict) -> nn.Module:
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _computing(backbone: nn.Module):
    return [m for m in backbone.modules()
            if isinstance(m, (BasicBlockComputingLayer, BottleneckComputingLayer,
                              ViTComputingLayer))]


def _randomize_norms(module: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.6 - 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)


def _deploys_exactly(backbone: nn.Module, x: torch.Tensor) -> None:
    backbone.eval()
    with torch.no_grad():
        ref = backbone(x)
        deployed = copy.deepcopy(backbone)
        deployed.switch_to_deploy()
        out = deployed(x)
    for a, b in zip(out, ref):
        err = ((a - b).abs().max() / b.abs().max()).item()
        assert err < 1e-5, err
    assert not any(k.endswith(('alpha', 'beta')) for k in deployed.state_dict())


# --- the coefficients themselves -----------------------------------------------------------
@pytest.mark.parametrize('neighbours,alpha,beta', [('both', 0.5, 0.5), ('prev', 1.0, None),
                                                   ('next', None, 1.0)])
def test_fixed_coefficients_are_constants(neighbours, alpha, beta):
    check_repl_options(neighbours, 'fixed')  # any neighbours choice is accepted
    coef = SynthesisCoefficients(6, neighbours, 'fixed')
    assert list(coef.parameters()) == [] and coef.state_dict() == {}
    torch.manual_seed(0)
    wp, wn = normalize_rows(torch.randn(6, 4, 3, 3)), normalize_rows(torch.randn(6, 4, 3, 3))
    want = (alpha or 0) * wp + (beta or 0) * wn
    torch.testing.assert_close(coef(wp if alpha else None, wn if beta else None), want)
    # buffers follow dtype / device moves like any constant of the module
    assert coef.double()(wp.double() if alpha else None,
                         wn.double() if beta else None).dtype == torch.float64


def test_bad_coefficients_name_lists_fixed():
    with pytest.raises(ValueError, match=r"coefficients must be one of \('separate', "
                                         r"'shared', 'fixed'\), got 'none'"):
        SynthesisCoefficients(4, 'both', 'none')


# --- BasicBlock: eq. 44 (4C) minus 2C -------------------------------------------------------
def test_basicblock_backbone_fixed():
    common = dict(type='CifarResNetRepL', depth=20, replace_blocks=[[1], [1], [1]])
    fixed = _build(dict(common, coefficients='fixed'))
    separate = _build(dict(common, coefficients='separate'))
    layers = _computing(fixed)
    assert [m.channels for m in layers] == [16, 32, 64]
    for m in layers:  # only the BN affine (2C) remains trainable
        assert _trainable(m) == 2 * m.channels
        assert list(m.norm.state_dict()) and not list(m.synthesis.parameters())
    assert _trainable(separate) - _trainable(fixed) == 2 * (16 + 32 + 64)
    assert not any('synthesis' in k for k in fixed.state_dict())
    _randomize_norms(fixed)
    _deploys_exactly(fixed, torch.randn(2, 3, 16, 16))


# --- Bottleneck: eq. 47 (2B + 2C) minus 2B --------------------------------------------------
def test_bottleneck_backbone_fixed():
    common = dict(type='ResNetRepL', depth=50, stem_channels=8, base_channels=8,
                  replace_blocks=[[], [2], [2, 4], []], init_cfg=None)
    fixed = _build(dict(common, coefficients='fixed'))
    separate = _build(dict(common, coefficients='separate'))
    layers = _computing(fixed)
    assert [(m.channels, m.mid_channels) for m in layers] == [(64, 16), (128, 32), (128, 32)]
    for m in layers:
        assert _trainable(m) == 2 * m.channels
    assert _trainable(separate) - _trainable(fixed) == 2 * (16 + 32 + 32)
    _randomize_norms(fixed)
    _deploys_exactly(fixed, torch.randn(1, 3, 64, 64))


# --- ViT: eq. 50 (2 or 2H) minus all of them ------------------------------------------------
TINY_VIT = dict(type='VisionTransformerRepL', img_size=32, patch_size=8, replace_blocks=[2],
                arch=dict(embed_dims=48, num_layers=5, num_heads=4, feedforward_channels=96))


@pytest.mark.parametrize('head_wise', [False, True])
@pytest.mark.parametrize('branches', [('attn', 'mlp'), ('attn',)])
@pytest.mark.parametrize('neighbours', ['both', 'prev', 'next'])
def test_vit_backbone_fixed(head_wise, branches, neighbours):
    common = dict(TINY_VIT, head_wise=head_wise, synthesis_branches=branches,
                  neighbours=neighbours)
    torch.manual_seed(0)
    fixed = _build(dict(common, coefficients='fixed'))
    separate = _build(dict(common, coefficients='separate'))
    (layer,) = _computing(fixed)
    assert _trainable(layer) == 0
    per_site = (4 if head_wise else 1) * (2 if neighbours == 'both' else 1)
    assert _trainable(separate) - _trainable(fixed) == per_site
    fixed.init_weights()
    _deploys_exactly(fixed, torch.randn(2, 3, 32, 32))


def test_vit_fixed_scalar_is_mean_of_projections():
    """The scalar attention branch with fixed coefficients is eq. 20 with alpha = beta = 1/2."""
    torch.manual_seed(0)
    vit = _build(dict(TINY_VIT, coefficients='fixed', synthesis_branches=('attn',)))
    prev, layer, nxt = vit.layers[1], vit.layers[2], vit.layers[3]
    op = layer.synthesize(prev, nxt)
    torch.testing.assert_close(op['attn_weight'],
                               0.5 * prev.attn.proj.weight + 0.5 * nxt.attn.proj.weight)
    torch.testing.assert_close(op['attn_bias'],
                               0.5 * prev.attn.proj.bias + 0.5 * nxt.attn.proj.bias)
