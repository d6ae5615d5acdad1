"""VisionTransformerRepL (paper §III-C) on mmpretrain's VisionTransformer, in the mmpretrain
and mmseg scopes: removal plan, eq. 50 parameter counts, stock parity, stop-gradient (eq. 30),
deploy re-parameterization (eq. 33), checkpoint loading and argument validation."""
import copy
import pickle

import pytest
import torch
from mmpretrain.registry import MODELS

import repl_mm  # noqa: F401  (registers the RepL backbones)
from repl_mm.core.vit import ViTComputingLayer
from repl_mm.models.vit import VisionTransformerRepL

TINY = dict(arch='deit-tiny', img_size=32, patch_size=8)  # ViT-Tiny/8 on CIFAR: 16 patches
HEADS = {'deit-tiny': 3, 'deit-small': 6, 'deit-base': 12}


def build(**kwargs):
    return MODELS.build(dict(type='VisionTransformerRepL', **kwargs))


def build_stock(**kwargs):
    return MODELS.build(dict(type='VisionTransformer', **kwargs))


def n_params(model, trainable=True):
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def close(a, b, rtol=1e-5):
    assert a.shape == b.shape
    err = ((a - b).abs().max() / b.abs().max()).item()
    assert err < rtol, err


def randomize_coefficients(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if '.synthesis.' in name:
                p.copy_(torch.rand_like(p) + 0.25)


@pytest.mark.parametrize('arch,depth,plan', [
    ('deit-tiny', 12, [3, 7]), ('deit-small', 12, [3, 7]), ('small', 8, [3]),
    ('large', 24, [3, 7, 11, 15, 19])])
def test_removal_plan_and_layout(arch, depth, plan):
    with torch.device('meta'):
        model = build(arch=arch, img_size=32, patch_size=16)
    assert model.removal_plan == [plan] and model.removed_blocks == plan
    assert len(model.layers) == depth
    assert [i for i, m in enumerate(model.layers) if isinstance(m, ViTComputingLayer)] == plan
    assert model.layers[plan[0]].drop_path is not None


def test_interval_and_replace_blocks():
    with torch.device('meta'):
        assert build(**TINY, interval=6).removed_blocks == [5]
        assert build(**TINY, interval=2).removed_blocks == [1, 3, 5, 7, 9]
        assert build(**TINY, replace_blocks=[5, 2]).removed_blocks == [2, 5]
        stock = build(**TINY, interval=None)
    assert stock.removed_blocks == []
    assert not any(isinstance(m, ViTComputingLayer) for m in stock.modules())


@pytest.mark.parametrize('arch', ['deit-tiny', 'deit-small', 'deit-base'])
def test_parameter_count_eq_50(arch):
    """P_RepL = P_E2E - sum_r P_r + a_r, a_r = 2 (scalar) or 2H (per-head); 1 or H shared."""
    with torch.device('meta'):  # the count does not need values
        stock = build_stock(arch=arch, img_size=32, patch_size=16)
        removed = sum(n_params(stock.layers[i]) for i in (3, 7))
        e2e = n_params(stock)
        h = HEADS[arch]
        for kw, a in ((dict(head_wise=False), 2), (dict(head_wise=True), 2 * h),
                      (dict(head_wise=False, coefficients='shared'), 1),
                      (dict(head_wise=True, coefficients='shared'), h),
                      (dict(synthesis_branches=('attn',)), 2),
                      (dict(synthesis_branches=('mlp',)), 0)):
            model = build(arch=arch, img_size=32, patch_size=16, **kw)
            assert n_params(model) == e2e - removed + 2 * a, (arch, kw)
        assert n_params(build(arch=arch, img_size=32, patch_size=16, remove_only=True)) \
            == e2e - removed
    assert removed == 2 * (12 * stock.embed_dims ** 2 + 13 * stock.embed_dims)  # eq. 49


@pytest.mark.parametrize('kwargs', [
    dict(), dict(head_wise=True), dict(out_type='featmap', out_indices=(3, 7, 11)),
    dict(out_type='avg_featmap', with_cls_token=False, final_norm=False),
    dict(out_type='raw', pre_norm=True, drop_path_rate=0.1),
    dict(remove_only=True, out_indices=-1)])
def test_build_forward_backward_matches_stock_shapes(kwargs):
    torch.manual_seed(0)
    repl_kw = {k: v for k, v in kwargs.items() if k in ('head_wise', 'remove_only')}
    stock_kw = {k: v for k, v in kwargs.items() if k not in repl_kw}
    model, stock = build(**TINY, **kwargs), build_stock(**TINY, **stock_kw)
    model.init_weights()
    model.train()
    x = torch.randn(2, 3, 32, 32)
    outs, ref = model(x), stock(x)
    assert isinstance(outs, tuple) and len(outs) == len(ref)
    assert [o.shape for o in outs] == [r.shape for r in ref]
    sum(o.float().pow(2).mean() for o in outs).backward()
    for name, p in model.named_parameters():
        if '.synthesis.' in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert model.layers[2].attn.proj.weight.grad.abs().sum() > 0


def test_mmseg_encoder():
    from mmseg.registry import MODELS as SEG_MODELS
    cfg = dict(arch='deit-tiny', img_size=(32, 64), patch_size=8, out_indices=(2, 5, 8, 11),
               out_type='featmap', final_norm=False, head_wise=True)
    for type_ in ('VisionTransformerRepL', 'mmpretrain.VisionTransformerRepL'):
        enc = SEG_MODELS.build(dict(type=type_, **cfg))
        assert isinstance(enc, VisionTransformerRepL)
    outs = enc(torch.randn(2, 3, 32, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 192, 4, 8)] * 4
    sum(o.mean() for o in outs).backward()
    assert enc.layers[3].synthesis.alpha.grad is not None


def test_mmseg_encoder_decoder_loss():
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.structures import SegDataSample
    seg = SEG_MODELS.build(dict(
        type='EncoderDecoder',
        backbone=dict(type='VisionTransformerRepL', arch='deit-tiny', img_size=32,
                      patch_size=8, out_indices=(5, 11), out_type='featmap'),
        decode_head=dict(type='FCNHead', in_channels=192, in_index=1, channels=16,
                         num_convs=1, num_classes=3, norm_cfg=dict(type='BN'),
                         loss_decode=dict(type='CrossEntropyLoss'))))
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(32, 32), pad_shape=(32, 32),
                                        ori_shape=(32, 32)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 32, 32)))
        samples.append(s)
    losses = seg.loss(torch.randn(2, 3, 32, 32), samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    assert torch.isfinite(loss)
    assert seg.backbone.layers[7].synthesis.beta.grad is not None


def test_stock_checkpoint_loads():
    torch.manual_seed(0)
    stock = build_stock(**TINY, out_indices=(3, 11))
    stock.init_weights()
    stock.eval()
    x = torch.randn(2, 3, 32, 32)
    # interval=None is the stock ViT: same keys, same outputs
    plain = build(**TINY, out_indices=(3, 11), interval=None)
    plain.eval()  # (mmpretrain's BaseBackbone.train returns None, so no chaining)
    res = plain.load_state_dict(stock.state_dict(), strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    for a, b in zip(plain(x), stock(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # RepL: only the removed blocks' keys are unexpected, only the coefficients missing
    model = build(**TINY, head_wise=True)
    res = model.load_state_dict(stock.state_dict(), strict=False)
    assert sorted(res.missing_keys) == [f'layers.{i}.synthesis.{c}'
                                        for i in (3, 7) for c in ('alpha', 'beta')]
    assert res.unexpected_keys and all(k.startswith(('layers.3.', 'layers.7.'))
                                       for k in res.unexpected_keys)
    assert len(res.unexpected_keys) == 2 * len(stock.layers[3].state_dict())
    torch.testing.assert_close(model.layers[2].attn.proj.weight, stock.layers[2].attn.proj.weight)


def test_pos_embed_resized_when_loading_other_size():
    torch.manual_seed(0)
    stock = build_stock(arch='deit-tiny', img_size=32, patch_size=8)  # 4x4 patches
    model = build(arch='deit-tiny', img_size=64, patch_size=8)        # 8x8 patches
    res = model.load_state_dict(stock.state_dict(), strict=False)
    assert 'pos_embed' not in res.missing_keys and 'pos_embed' not in res.unexpected_keys
    assert model.pos_embed.shape == (1, 65, 192)
    torch.testing.assert_close(model.pos_embed[:, :1], stock.pos_embed[:, :1])  # cls token


def test_stop_gradient_in_backbone():
    """With stop_grad the neighbours get exactly the gradients of their own paths: the same
    as in the deployed copy, whose computing layers are constants. Without, they differ."""
    x = torch.randn(2, 3, 32, 32)
    for stop_grad in (True, False):
        torch.manual_seed(0)
        model = build(**TINY, head_wise=True, stop_grad=stop_grad)
        model.init_weights()
        randomize_coefficients(model)
        deployed = copy.deepcopy(model)
        deployed.switch_to_deploy()
        for m in (model, deployed):
            m(x)[0].pow(2).sum().backward()
        # head-wise RepL reads proj and fc1 of both neighbours, ln1/ln2 of the left one
        read = {2: ALL, 6: ALL, 4: ALL[:2], 8: ALL[:2]}
        for i, names in read.items():
            for name in names:
                g = model.layers[i].get_parameter(name).grad
                g_ref = deployed.layers[i].get_parameter(name).grad
                same = torch.allclose(g, g_ref, rtol=1e-4, atol=1e-7)
                assert same == stop_grad, (stop_grad, i, name)
            if stop_grad:  # and nothing else of the neighbours changes either
                for name, p in model.layers[i].named_parameters():
                    torch.testing.assert_close(
                        p.grad, deployed.layers[i].get_parameter(name).grad,
                        rtol=1e-4, atol=1e-7)


ALL = ('attn.proj.weight', 'ffn.layers.0.0.weight', 'ln1.weight', 'ln2.weight')


CONFIGS = [dict(synthesis_branches=b, head_wise=hw)
           for b in (('attn',), ('mlp',), ('attn', 'mlp')) for hw in (False, True)]


@pytest.mark.parametrize('kwargs', CONFIGS, ids=lambda k: '-'.join(map(str, k.values())))
def test_deploy_equivalence(kwargs):
    torch.manual_seed(0)
    model = build(**TINY, out_indices=(3, 7, 11), drop_path_rate=0.1, **kwargs)
    model.init_weights()
    randomize_coefficients(model)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    ref = model(x)
    model.switch_to_deploy()
    assert model.deploy
    assert not any('synthesis' in k for k in model.state_dict())
    for a, b in zip(model(x), ref):
        close(a, b)
    # deploy=True builds the deploy form directly: a deploy checkpoint loads strictly
    fresh = build(**TINY, out_indices=(3, 7, 11), deploy=True, **kwargs)
    fresh.eval()
    fresh.load_state_dict(model.state_dict(), strict=True)
    for a, b in zip(fresh(x), ref):
        close(a, b)
    # the deployed computing layers do not read their neighbours any more
    with torch.no_grad():
        for i in (2, 4, 6, 8):
            fresh.layers[i].attn.proj.weight.add_(1)
            fresh.layers[i].ffn.layers[0][0].weight.add_(1)
    layer = fresh.layers[3]
    t = torch.randn(2, 17, 192)
    close(layer(t), model.layers[3](t))


def test_frozen_stages_freeze_computing_layers():
    model = build(**TINY, frozen_stages=5)
    assert not any(p.requires_grad for p in model.layers[3].parameters())
    assert not model.layers[3].training
    assert all(p.requires_grad for p in model.layers[7].parameters())
    assert model.layers[5].attn.proj.weight.requires_grad
    assert not model.layers[4].attn.proj.weight.requires_grad


def test_drop_path_rate_of_removed_block():
    model = build(**TINY, drop_path_rate=0.11)
    rates = torch.linspace(0, 0.11, 12)
    for i in (3, 7):
        assert model.layers[i].drop_path.drop_prob == pytest.approx(rates[i].item())


def test_deepcopy_and_pickle():
    torch.manual_seed(0)
    model = build(**TINY)
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    ref = model(x)[0]
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        torch.testing.assert_close(clone(x)[0], ref)
        mods = set(map(id, clone.layers[3].modules()))
        assert id(clone.layers[2]) not in mods and id(clone.layers[4]) not in mods


@pytest.mark.parametrize('kwargs,match', [
    (dict(interval=1), 'interval'),
    (dict(interval='4'), 'interval'),
    (dict(replace_blocks=[0]), 'replace_blocks'),
    (dict(replace_blocks=[11]), 'replace_blocks'),
    (dict(replace_blocks=[3, 4]), 'replace_blocks'),
    (dict(replace_blocks=[[3, 7]]), 'replace_blocks'),
    (dict(replace_blocks='3'), 'replace_blocks'),
    (dict(synthesis_branches='attn'), 'synthesis_branches'),
    (dict(synthesis_branches=('ffn',)), 'synthesis_branches'),
    (dict(head_wise=1), 'head_wise'),
    (dict(neighbours='left'), 'neighbours'),
    (dict(coefficients='three'), 'coefficients'),
    (dict(coefficients='shared', neighbours='next'), 'neighbours'),
    (dict(stop_grad=None), 'stop_grad'),
    (dict(remove_only='no'), 'remove_only'),
    (dict(deploy=0), 'deploy'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        with torch.device('meta'):
            build(**TINY, **kwargs)


def test_neighbour_width_mismatch_is_reported():
    cfgs = [dict()] * 12
    cfgs[4] = dict(feedforward_channels=256)
    with pytest.raises(ValueError, match='interval removes block 3.*right'):
        with torch.device('meta'):
            build(**TINY, layer_cfgs=cfgs)
    with torch.device('meta'):  # the attention-only layer does not read the MLP
        build(**TINY, layer_cfgs=cfgs, synthesis_branches=('attn',))
