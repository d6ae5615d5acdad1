"""Table VI "RepL (no weights)" (neighbours='none', repl_mm.core.own): each computing layer owns
a learnable operator of the synthesized shape and reads no neighbour weight -- its output and
its gradients do not depend on the neighbours' weights (while RepL's do) -- for BasicBlock,
Bottleneck and ViT sites; the deploy fold is exact; in the cost model its forward FLOPs (with
the synthesis work) and activation + synthesis memory sit between remove-only and RepL, its
training FLOPs equal RepL's at BasicBlock sites and exceed them at ViT sites (measured: the
own MLP weights need gradients, RepL's MLP-fusion branch has none), and its parameters are
counted exactly."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from repl_mm.analysis import cost_model as cost
from repl_mm.analysis.counters import count_flops, count_saved_bytes, num_params
from repl_mm.analysis.sites import capture_block_inputs, site_costs
from repl_mm.core.layer import ComputingLayer
from repl_mm.core.own import (
    OwnBasicBlockComputingLayer,
    OwnBottleneckComputingLayer,
    OwnViTComputingLayer,
    own_param_count,
)

VIT = dict(type='VisionTransformerRepL', img_size=32, patch_size=8,
           arch=dict(embed_dims=32, num_layers=6, num_heads=2, feedforward_channels=64))
CASES = {
    'basic': (dict(type='CifarResNetRepL', depth=32), (2, 3, 16, 16),
              OwnBasicBlockComputingLayer),
    'bottleneck': (dict(type='ResNetRepL', depth=50, stem_channels=8, base_channels=8),
                   (1, 3, 64, 64), OwnBottleneckComputingLayer),
    'vit': (VIT, (2, 3, 32, 32), OwnViTComputingLayer),
    'vit-head-wise': (dict(VIT, head_wise=True), (2, 3, 32, 32), OwnViTComputingLayer),
}


def _build(cfg: dict) -> nn.Module:
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def _sites(bb):
    """(prev, layer, next) of every computing layer."""
    if hasattr(bb, 'res_layers'):
        seqs = [list(getattr(bb, n)) for n in bb.res_layers]
    else:
        seqs = [list(bb.layers)]
    return [(s[i - 1], m, s[i + 1]) for s in seqs for i, m in enumerate(s)
            if isinstance(m, ComputingLayer)]


def _input(bb, layer_prev, shape):
    """A realistic input of the layer: the output of its left neighbour on a forward."""
    seen = {}
    h = layer_prev.register_forward_hook(lambda m, a, o: seen.setdefault('x', o))
    with torch.no_grad():
        bb(torch.randn(shape))
    h.remove()
    return seen['x'].detach()


def _scramble(block):
    other = copy.deepcopy(block)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn_like(p))
    return other


@pytest.mark.parametrize('case', sorted(CASES))
def test_output_does_not_depend_on_the_neighbours_weights(case):
    cfg, shape, cls = CASES[case]
    torch.manual_seed(0)
    own = _build(dict(cfg, neighbours='none'))
    repl = _build(cfg)
    own.train()
    repl.train()
    sites = _sites(own)
    assert sites and all(type(m) is cls for _, m, _ in sites)
    assert all(m.weight_sources() == {} for _, m, _ in sites)
    for bb, depends in ((own, False), (repl, True)):
        prev, layer, nxt = _sites(bb)[0]
        x = _input(bb, prev, shape)
        y = layer(x, prev, nxt)
        y2 = layer(x, _scramble(prev), _scramble(nxt))
        if depends:   # RepL synthesizes from the neighbours: the check can fail
            assert (y - y2).abs().max() > 1e-3
        else:
            assert torch.equal(y, y2)
    # the layer's own operator is what learns; the neighbours get no gradient through it
    prev, layer, nxt = sites[0]
    x = _input(own, prev, shape)
    prev.zero_grad()
    nxt.zero_grad()
    layer(x, prev, nxt).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.operator.values())
    assert all(p.grad is None for p in list(prev.parameters()) + list(nxt.parameters()))


@pytest.mark.parametrize('case', sorted(CASES))
def test_params_and_exact_deploy_fold(case):
    cfg, shape, _ = CASES[case]
    torch.manual_seed(0)
    bb = _build(dict(cfg, neighbours='none'))
    for _, layer, _ in _sites(bb):
        if isinstance(layer, OwnViTComputingLayer):
            n = own_param_count('vit', embed_dims=layer.embed_dims,
                                feedforward_channels=layer.feedforward_channels,
                                head_wise=layer.head_wise)
        elif isinstance(layer, OwnBottleneckComputingLayer):
            n = own_param_count('bottleneck', channels=layer.channels,
                                mid_channels=layer.mid_channels, groups=layer.groups)
        else:
            n = own_param_count('basic', channels=layer.channels)
        assert num_params(layer) == n
    bb.train()
    with torch.no_grad():
        for _ in range(2):
            bb(torch.randn(shape))
    bb.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        ref = bb(x)
        dep = copy.deepcopy(bb)
        dep.switch_to_deploy()
        out = dep(x)
    for a, b in zip(ref, out):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
    # the deploy state dict loads back into the training config (forms detection)
    fresh = _build(dict(cfg, neighbours='none'))
    fresh.load_state_dict(dep.state_dict())
    fresh.eval()
    with torch.no_grad():
        for a, b in zip(ref, fresh(x)):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)


def _cost(e2e, repl, shape):
    x = torch.randn(shape)
    inputs = capture_block_inputs(e2e, lambda: e2e(x))
    fwd = count_flops(lambda: e2e(x)).total
    tfl = count_flops(lambda: sum(o.sum() for o in e2e(x)).backward()).total
    act = count_saved_bytes(lambda: e2e(x), e2e).activation
    sites = site_costs(e2e, repl, inputs)
    return cost.CostModel(sites, repl.removal_plan, num_params(e2e), num_params(e2e, True),
                          fwd, act, train_flops=tfl)


@pytest.mark.parametrize('case', ['basic', 'vit'])
def test_cost_between_remove_only_and_repl(case):
    """Table VI: "no weights" is cheaper than RepL (no synthesis) and dearer than removing."""
    cfg, shape, _ = CASES[case]
    e2e_type = cfg['type'][:-len('RepL')]
    e2e = _build(dict(cfg, type=e2e_type))
    e2e.train()
    models = {}
    for tag, args in (('remove', dict(remove_only=True)), ('own', dict(neighbours='none')),
                      ('repl', {})):
        m = _build(dict(cfg, **args))
        m.train()
        models[tag] = _cost(e2e, m, shape)
    f = {k: cm.pred_flops + cm.synthesis_flops for k, cm in models.items()}
    t = {k: cm.pred_train_flops for k, cm in models.items()}
    mem = {k: cm.pred_activation + cm.pred_aux for k, cm in models.items()}
    for d in (f, mem):   # Table VI: cheaper than RepL (no synthesis), dearer than removing
        assert d['remove'] < d['own'] < d['repl'], d
    assert models['own'].synthesis_flops == 0 and models['own'].pred_aux == 0
    # training FLOPs: the own operator's weights need gradients; RepL's parameter-free parts
    # (the ViT MLP-fusion branch; a Bottleneck's W_red / W_exp) do not -> not below RepL
    assert t['remove'] < t['own']
    if case == 'basic':
        assert t['own'] == t['repl'], t
    else:
        assert t['own'] > t['repl'], t     # measured; docs/ablations.md says so
    # parameters: the own operator is larger than RepL's coefficients (docs/ablations.md)
    p = {k: cm.pred_params for k, cm in models.items()}
    assert p['remove'] < p['repl'] < p['own'] < num_params(e2e)
