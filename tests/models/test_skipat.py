"""VisionTransformerSkipAt, the Skip-Attention baseline of Tables I-II (Venkataramanan et al.,
ICLR 2024): forward/backward, stock output shapes, every VisionTransformer argument, the
reference computation of Z_l = Phi(Z_{l-1}), parameter and attention-FLOP counts from their
formulas, argument validation, and the configs beside their E2E twins."""
import inspect
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.registry import MODELS
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

import repl_mm  # noqa: F401  (registers the backbones)
from repl_mm.models.skipat import (
    SKIPAT_DEFAULT_LAYERS,
    SkipAtEncoderLayer,
    VisionTransformerSkipAt,
    msa_flops,
    parametric_flops,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(arch='deit-tiny', img_size=32, patch_size=8)  # ViT-Tiny/8: 4x4 patches + CLS


def build(**kwargs):
    return MODELS.build(dict(type='VisionTransformerSkipAt', **kwargs))


def build_stock(**kwargs):
    return MODELS.build(dict(type='VisionTransformer', **kwargs))


def evaluating(model):
    model.eval()   # mmpretrain backbones' train() returns None, so no chaining
    return model


def n_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_registered_and_default_layers():
    assert MODELS.get('VisionTransformerSkipAt') is VisionTransformerSkipAt
    with torch.device('meta'):
        model = build(**TINY)
    assert model.skip_layers == list(SKIPAT_DEFAULT_LAYERS) == [3, 4, 5, 6, 7, 8]
    kinds = [isinstance(m, SkipAtEncoderLayer) for m in model.layers]
    assert kinds == [i in (3, 4, 5, 6, 7, 8) for i in range(12)]
    assert model.msa_sources == [2]
    for i in model.skip_layers:   # attention not built in the skipped layers
        assert not hasattr(model.layers[i], 'attn') and not hasattr(model.layers[i], 'ln1')


def test_forward_backward_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = build(**TINY, drop_path_rate=0.1)
    model.train()
    out = model(torch.randn(2, 3, 32, 32))
    assert len(out) == 1 and out[0].shape == (2, 192)
    out[0].square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []          # no unused parameters (DDP needs none)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize('out_type', ['cls_token', 'featmap', 'avg_featmap', 'raw'])
@pytest.mark.parametrize('out_indices', [-1, (2, 5, 11), (0, 4)])
def test_output_shapes_match_stock(out_type, out_indices):
    kw = dict(TINY, out_type=out_type, out_indices=out_indices)
    x = torch.randn(2, 3, 32, 32)
    stock, skip = evaluating(build_stock(**kw)), evaluating(build(**kw))
    with torch.no_grad():
        a, b = stock(x), skip(x)
    assert [t.shape for t in a] == [t.shape for t in b]


def test_no_skipped_layers_is_the_stock_vit():
    torch.manual_seed(0)
    stock = evaluating(build_stock(**TINY, out_indices=(3, 11)))
    skip = evaluating(build(**TINY, out_indices=(3, 11), skip_layers=[]))
    skip.load_state_dict(stock.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(stock(x), skip(x)):
            torch.testing.assert_close(b, a, rtol=0, atol=0)


def _phi_reference(phi, z, grid):
    """Phi(Z) = ECA(FC2(GELU(DwConv(GELU(FC1(Z)))))) with plain functional ops."""
    b, n, d = z.shape
    h = F.gelu(F.linear(z, phi.fc1.weight, phi.fc1.bias))
    h = h.transpose(1, 2).reshape(b, -1, *grid)
    h = F.gelu(F.conv2d(h, phi.dwconv.weight, phi.dwconv.bias, padding=2,
                        groups=phi.dwconv.weight.shape[0]))
    h = F.linear(h.flatten(2).transpose(1, 2), phi.fc2.weight, phi.fc2.bias)
    y = torch.sigmoid(F.conv1d(h.mean(1, keepdim=True), phi.eca.conv.weight, padding=1))
    return h * y


def _reference_forward(stock, skip, x, skipped):
    """The stock ViT layers with ``attn`` replaced, in the skipped layers, by
    ``Z_l = [CLS of Z_{l-1}; Phi_l(patches of Z_{l-1})]`` (SkipAt §3)."""
    x, hw = stock.patch_embed(x)
    x = torch.cat([stock.cls_token.expand(x.shape[0], -1, -1), x], 1) + stock.pos_embed
    z = None
    for i, block in enumerate(stock.layers):
        if i in skipped:
            z = torch.cat([z[:, :1], _phi_reference(skip.layers[i].parametric, z[:, 1:], hw)],
                          1)
        else:
            z = block.attn(block.ln1(x))
        x = x + z
        x = block.ffn(block.ln2(x), identity=x)
    return stock.ln1(x)[:, 0]


@pytest.mark.parametrize('skipped', [[3, 4, 5, 6, 7, 8], [2, 5, 6], [11]])
def test_skipped_layers_compute_phi_of_the_previous_msa_output(skipped):
    torch.manual_seed(0)
    stock = evaluating(build_stock(**TINY))
    skip = evaluating(build(**TINY, skip_layers=skipped))
    result = skip.load_state_dict(stock.state_dict(), strict=False)
    # a stock checkpoint: only the skipped layers' attention is unexpected, only Phi missing
    assert {k.split('.')[1] for k in result.unexpected_keys} == {str(i) for i in skipped}
    assert all(k.split('.')[2] in ('ln1', 'attn') for k in result.unexpected_keys)
    assert all(k.split('.')[2] == 'parametric' for k in result.missing_keys)
    assert len(result.missing_keys) == 7 * len(skipped)  # fc1, dwconv, fc2 (w, b), eca.conv
    with torch.no_grad():
        for i in skipped:   # non-trivial ECA / conv weights
            skip.layers[i].parametric.eca.conv.weight.normal_()
        x = torch.randn(2, 3, 32, 32)
        torch.testing.assert_close(skip(x)[0], _reference_forward(stock, skip, x, skipped),
                                   rtol=1e-5, atol=1e-5)


def test_msa_output_is_read_before_stochastic_depth():
    model = build(**TINY, drop_path_rate=0.1)
    rates = torch.linspace(0, 0.1, 12)
    src = model.layers[2]
    assert isinstance(src.attn.out_drop, torch.nn.Identity)
    assert model.msa_drop_paths['2'].drop_prob == pytest.approx(rates[2].item())
    for i in model.skip_layers:
        assert model.layers[i].drop_path.drop_prob == pytest.approx(rates[i].item())


@pytest.mark.parametrize('arch,d', [('deit-tiny', 192), ('deit-small', 384), ('base', 768)])
def test_parameter_count(arch, d):
    """Each skipped layer loses LN1 + MSA (2d + 4d^2 + 4d) and gains Phi:
    d*2d + 2d (FC1) + 2d*25 + 2d (DwConv 5x5) + 2d*d + d (FC2) + 3 (ECA)."""
    with torch.device('meta'):
        stock = build_stock(arch=arch, img_size=32, patch_size=16)
        skip = build(arch=arch, img_size=32, patch_size=16)
    h = 2 * d
    phi = d * h + h + h * 25 + h + h * d + d + 3
    msa = 2 * d + 4 * d * d + 4 * d
    assert n_params(skip) == n_params(stock) + 6 * (phi - msa)
    assert sum(p.numel() for p in skip.layers[3].parametric.parameters()) == phi


def _flops(model, x):
    sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    counter = FlopCounterMode(display=False, custom_mapping={
        sdpa: lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v)})
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


@pytest.mark.parametrize('img,patch,batch', [(32, 8, 2), (224, 16, 1)])
def test_fewer_attention_flops_in_the_skipped_layers(img, patch, batch):
    """E2E - SkipAt = sum over skipped layers of (MSA - Phi) FLOPs, each from its formula:
    MSA = 8 N d^2 + 4 N^2 d (N tokens with CLS), Phi = 2nd*2d + 2n*2d*25 + 2n*2d*d + 2d*3
    (n patch tokens); and Phi < MSA."""
    kw = dict(arch='deit-tiny', img_size=img, patch_size=patch)
    stock, skip = evaluating(build_stock(**kw)), evaluating(build(**kw))
    x = torch.randn(batch, 3, img, img)
    d, n = 192, (img // patch) ** 2
    msa, phi = msa_flops(d, n + 1), parametric_flops(d, n)
    assert msa == 8 * (n + 1) * d * d + 4 * (n + 1) ** 2 * d
    assert phi == 2 * n * d * 2 * d + 2 * n * 2 * d * 25 + 2 * n * 2 * d * d + 2 * d * 3
    assert phi < msa
    e2e_flops, skip_flops = _flops(stock, x), _flops(skip, x)
    assert e2e_flops - skip_flops == batch * 6 * (msa - phi)
    # per layer: a stock layer's attention alone costs msa (the counted attention module)
    counter = FlopCounterMode(display=False, custom_mapping={
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu:
            lambda q, k, v, *a, out_shape=None, **kws: sdpa_flop_count(q, k, v)})
    tokens = torch.randn(batch, n + 1, d)
    with counter, torch.no_grad():
        stock.layers[3].attn(tokens)
    assert counter.get_total_flops() == batch * msa


def test_every_vision_transformer_argument_is_accepted():
    params = inspect.signature(VisionTransformer.__init__).parameters
    values = dict(arch='deit-tiny', img_size=32, patch_size=8, in_channels=3,
                  out_indices=(5, 11), drop_rate=0.1, drop_path_rate=0.1, qkv_bias=False,
                  norm_cfg=dict(type='LN', eps=1e-6), final_norm=False, out_type='featmap',
                  with_cls_token=True, frozen_stages=5, interpolate_mode='bilinear',
                  layer_scale_init_value=0.1, patch_cfg=dict(), layer_cfgs=dict(),
                  pre_norm=True, init_cfg=None)
    assert set(params) - {'self'} == set(values), 'a new VisionTransformer argument'
    model = build(**values, skip_layers=[3, 4, 5, 6])
    assert list(model.out_indices) == [5, 11] and model.out_type == 'featmap'
    assert model.frozen_stages == 5 and model.layers[2].attn.qkv.bias is None
    # frozen stages freeze the SkipAt layers inside them too
    assert not any(p.requires_grad for i in range(5) for p in model.layers[i].parameters())
    assert all(p.requires_grad for p in model.layers[5].parameters())
    out = model(torch.randn(1, 3, 32, 32))
    assert [t.shape for t in out] == [(1, 192, 4, 4)] * 2
    # without a CLS token (featmap output) there are no extra tokens to carry
    model = build(**TINY, with_cls_token=False, out_type='avg_featmap')
    assert model(torch.randn(1, 3, 32, 32))[0].shape == (1, 192)


@pytest.mark.parametrize('bad', [[0], [12], [3, 3], 'abc', [3.0], [True], 5])
def test_bad_skip_layers_name_the_argument(bad):
    with torch.device('meta'), pytest.raises(ValueError, match='skip_layers'):
        build(**TINY, skip_layers=bad)


def test_default_needs_twelve_layers_and_other_args_are_checked():
    with torch.device('meta'):
        with pytest.raises(ValueError, match='skip_layers'):
            build(arch='small', img_size=32, patch_size=16)   # 8 layers: no default
        assert build(arch='small', img_size=32, patch_size=16,
                     skip_layers=[2, 3]).skip_layers == [2, 3]
        with pytest.raises(ValueError, match='skip_kernel_size'):
            build(**TINY, skip_kernel_size=4)
        with pytest.raises(ValueError, match='skip_hidden_ratio'):
            build(**TINY, skip_hidden_ratio=0)
        with pytest.raises(ValueError, match='skip_eca'):
            build(**TINY, skip_eca='yes')


CONFIG_PAIRS = [('vit-tiny-p8_cifar10', 'vit-tiny-p8_skipat_cifar10'),
                ('vit-tiny-p8_svhn', 'vit-tiny-p8_skipat_svhn'),
                ('vit-tiny-p8_stl10', 'vit-tiny-p8_skipat_stl10'),
                ('vit-tiny-p16_imagenet', 'vit-tiny-p16_skipat_imagenet'),
                ('vit-small-p16_imagenet', 'vit-small-p16_skipat_imagenet'),
                ('vit-base-p16_imagenet', 'vit-base-p16_skipat_imagenet')]


def _flatten(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


@pytest.mark.parametrize('e2e,skipat', CONFIG_PAIRS, ids=[p[1] for p in CONFIG_PAIRS])
def test_configs_differ_from_their_twin_only_in_the_backbone(e2e, skipat):
    a = Config.fromfile(osp.join(ROOT, 'configs', e2e + '.py'))
    b = Config.fromfile(osp.join(ROOT, 'configs', skipat + '.py'))
    fa, fb = _flatten(a.to_dict()), _flatten(b.to_dict())
    changed = {k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k)}
    assert changed == {'model.backbone.type', 'model.backbone.skip_layers'}
    assert fb['model.backbone.type'] == 'VisionTransformerSkipAt'
    assert fb['model.backbone.skip_layers'] == [3, 4, 5, 6, 7, 8]
    with DefaultScope.overwrite_default_scope('mmpretrain'), torch.device('meta'):
        model = MODELS.build(b.model)
    assert type(model.backbone) is VisionTransformerSkipAt
    assert model.backbone.skip_layers == [3, 4, 5, 6, 7, 8]
