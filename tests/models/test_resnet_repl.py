"""ResNet-RepL in the three toolboxes: plan, eq. 42 parameter counts, stock equivalence,
stop-gradient, deploy equivalence, argument validation."""
import copy

import pytest
import torch
from mmdet.registry import MODELS as DET
from mmpretrain.registry import MODELS as CLS
from mmseg.registry import MODELS as SEG

from repl_mm.core import ComputingLayer
from repl_mm.core.stage import RepLStage, computing_layers

SCOPES = {'mmdet': DET, 'mmseg': SEG, 'mmpretrain': CLS}
STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
          152: (3, 8, 36, 3)}


def n_params(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def eq42_prediction(e2e_params, plan, widths, bottleneck, q=3):
    """Eq. 42 with P_r from eq. 43 / 46 and a_r from eq. 44 / 47."""
    total = e2e_params
    for removed, (c, b) in zip(plan, widths):
        for _ in removed:
            if bottleneck:
                p_r = 2 * c * b + b * b * q * q + 4 * b + 2 * c       # eq. 46
                a_r = 2 * b + 2 * c                                    # eq. 47
            else:
                p_r = 2 * c * c * q * q + 4 * c                        # eq. 43
                a_r = 4 * c                                            # eq. 44
            total -= p_r - a_r
    return total


@pytest.mark.parametrize('depth', [18, 34, 50, 101, 152])
def test_eq42_parameter_count_imagenet_resnets(depth):
    e2e = CLS.build(dict(type='ResNet', depth=depth))
    repl = CLS.build(dict(type='ResNetRepL', depth=depth))
    bottleneck = depth >= 50
    widths = [(64 * 2 ** i * (4 if bottleneck else 1), 64 * 2 ** i) for i in range(4)]
    expected_plan = [[r - 1 for r in range(4, n, 4)] for n in STAGES[depth]]
    assert repl.removal_plan == expected_plan
    assert n_params(repl) == eq42_prediction(n_params(e2e), repl.removal_plan, widths, bottleneck)
    n_layers = sum(isinstance(m, ComputingLayer) for m in repl.modules())
    assert n_layers == sum(map(len, expected_plan)) == {18: 0, 34: 1, 50: 1, 101: 5, 152: 9}[depth]


@pytest.mark.parametrize('depth,removed', [(32, 3), (110, 12)])
def test_eq42_parameter_count_cifar_resnets(depth, removed):
    e2e = CLS.build(dict(type='CifarResNet', depth=depth))
    repl = CLS.build(dict(type='CifarResNetRepL', depth=depth))
    assert sum(map(len, repl.removal_plan)) == removed
    widths = [(16, 16), (32, 32), (64, 64)]
    assert n_params(repl) == eq42_prediction(n_params(e2e), repl.removal_plan, widths, False)
    x = torch.randn(2, 3, 32, 32)
    assert [o.shape for o in repl(x)] == [o.shape for o in e2e(x)] == [torch.Size([2, 64, 8, 8])]


def test_resnet101_plan_and_keys():
    repl = DET.build(dict(type='ResNetRepL', depth=101))
    assert repl.removal_plan == [[], [], [3, 7, 11, 15, 19], []]
    assert isinstance(repl.layer3, RepLStage)
    keys = repl.state_dict().keys()
    assert 'layer3.2.conv1.weight' in keys and 'layer3.3.conv1.weight' not in keys
    assert {'layer3.3.synthesis.alpha', 'layer3.3.synthesis.beta',
            'layer3.3.norm.weight'} <= set(keys)


SCOPE_EXTRAS = {
    # dcn and plugins where K=4 keeps every block (layer2, layer4): on a removed block (layer3.3)
    # they are refused (tests/models/test_repl_arguments.py, README "RepL arguments")
    'mmdet': dict(type='ResNetRepL', depth=50, dcn=dict(type='DCNv2', deform_groups=1,
                                                        fallback_on_stride=False),
                  stage_with_dcn=(False, True, False, True),
                  plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 4),
                                stages=(False, True, False, True), position='after_conv3')]),
    'mmseg': dict(type='ResNetV1cRepL', depth=50, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                  contract_dilation=True, multi_grid=(1, 2, 4)),
    'mmpretrain': dict(type='ResNetRepL', depth=50, drop_path_rate=0.1, out_indices=(0, 1, 2, 3)),
}


@pytest.mark.parametrize('scope', sorted(SCOPES))
def test_builds_in_each_scope_with_toolbox_arguments(scope):
    cfg = dict(SCOPE_EXTRAS[scope])
    if scope == 'mmdet':
        pytest.importorskip('mmcv.ops')
    repl = SCOPES[scope].build(cfg)
    stock_cfg = dict(cfg, type=cfg['type'].replace('RepL', ''))
    stock = SCOPES[scope].build(stock_cfg)
    assert type(repl).__module__ == f'repl_mm.adapters.{scope}'
    x = torch.randn(2, 3, 64, 64)
    outs = repl(x)
    assert [o.shape for o in outs] == [o.shape for o in stock(x)]
    sum(o.mean() for o in outs).backward()
    layer = repl.layer3[3]
    assert isinstance(layer, ComputingLayer) and layer.synthesis.alpha.grad is not None
    assert n_params(repl) < n_params(stock)


def test_dilated_layer_takes_removed_block_dilation():
    repl = SEG.build(dict(SCOPE_EXTRAS['mmseg'], replace_blocks=[[], [2], [2, 4], []]))
    assert repl.layer2[2].dilation == 1
    assert repl.layer3[2].dilation == repl.layer3[2].padding == 2
    assert repl.layer3[4].dilation == 2
    # stage 4 of a Bottleneck ResNet has 3 blocks: only block 1 could go, and its left
    # neighbour is the transition block
    with pytest.raises(ValueError, match="left neighbour's conv1"):
        SEG.build(dict(SCOPE_EXTRAS['mmseg'], replace_blocks=[[], [], [], [1]]))


@pytest.mark.parametrize('scope', sorted(SCOPES))
def test_interval_none_is_the_stock_resnet(scope):
    torch.manual_seed(0)
    stock = SCOPES[scope].build(dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)))
    repl = SCOPES[scope].build(dict(type='ResNetRepL', depth=50, interval=None,
                                    out_indices=(0, 1, 2, 3)))
    sd = stock.state_dict()
    assert {k: v.shape for k, v in repl.state_dict().items()} == {k: v.shape for k, v in sd.items()}
    result = repl.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    stock.eval(), repl.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(stock(x), repl(x)):
        assert torch.equal(a, b)


@pytest.mark.parametrize('stop_grad', [True, False])
def test_stop_gradient_on_neighbour_weights(stop_grad):
    torch.manual_seed(0)
    repl = CLS.build(dict(type='ResNetRepL', depth=34, stop_grad=stop_grad))
    stage = repl.layer3                       # 6 blocks, block 3 replaced
    x = torch.randn(1, 256, 8, 8)
    h = stage[2](x)
    stage[3](h, stage[2], stage[4]).sum().backward()
    grad_next = stage[4].conv1.weight.grad    # reached only through the synthesis
    assert (grad_next is None) == stop_grad
    if not stop_grad:
        assert grad_next.abs().sum() > 0
    # end to end: the neighbour still learns through its own path either way
    repl.zero_grad()
    repl(torch.randn(1, 3, 64, 64))[-1].sum().backward()
    assert stage[4].conv1.weight.grad.abs().sum() > 0


def _populate_bn_stats(model, shape, steps=3):
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.randn(*shape))
    model.eval()


@pytest.mark.parametrize('scope,cfg', [
    ('mmpretrain', dict(type='ResNetRepL', depth=34, replace_blocks=[[1], [2], [1, 3], [1]])),
    ('mmdet', dict(type='ResNetRepL', depth=50, replace_blocks=[[], [2], [2, 4], []])),
    ('mmseg', dict(type='ResNetV1cRepL', depth=50, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                   contract_dilation=True, replace_blocks=[[], [2], [2, 4], []])),
    ('mmpretrain', dict(type='CifarResNetRepL', depth=32, neighbours='next')),
])
def test_deploy_equivalence(scope, cfg):
    torch.manual_seed(0)
    model = SCOPES[scope].build(model_cfg(cfg))
    for _, layer in computing_layers(model):
        with torch.no_grad():
            for p in layer.synthesis.parameters():
                p.uniform_(0.2, 1.0)
    size = 32 if 'Cifar' in cfg['type'] else 64
    _populate_bn_stats(model, (4, 3, size, size))
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ref = model(x)
        deployed = copy.deepcopy(model)
        deployed.switch_to_deploy()
        out = deployed(x)
    for a, b in zip(ref, out):
        assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5
    assert all(layer.deploy and not hasattr(layer, 'synthesis')
               for _, layer in computing_layers(deployed))
    # a deploy checkpoint loads into a model built with deploy=True
    fresh = SCOPES[scope].build(dict(model_cfg(cfg), deploy=True))
    fresh.load_state_dict(deployed.state_dict(), strict=True)
    fresh.eval()
    with torch.no_grad():
        for a, b in zip(fresh(x), out):
            assert torch.allclose(a, b)


def model_cfg(cfg):
    return dict(cfg, out_indices=(0, 1, 2, 3)) if 'Cifar' not in cfg['type'] else cfg


def test_frozen_stages_freeze_computing_layers():
    repl = DET.build(dict(type='ResNetRepL', depth=101, frozen_stages=3))
    layer = repl.layer3[3]
    assert not any(p.requires_grad for p in layer.parameters())
    repl.train()
    assert not layer.norm.training


def test_remove_only_drops_blocks_and_inserts_nothing():
    e2e = CLS.build(dict(type='ResNet', depth=101))
    removed = CLS.build(dict(type='ResNetRepL', depth=101, remove_only=True))
    assert not any(isinstance(m, ComputingLayer) for m in removed.modules())
    assert list(removed.layer3._modules)[:5] == ['0', '1', '2', '4', '5']
    removed_params = sum(n_params(e2e.layer3[i]) for i in (3, 7, 11, 15, 19))
    assert n_params(removed) == n_params(e2e) - removed_params
    assert removed(torch.randn(1, 3, 64, 64))[-1].shape == (1, 2048, 2, 2)


def test_sync_bn_norm_cfg_reaches_computing_layers():
    repl = DET.build(dict(type='ResNetRepL', depth=50, norm_cfg=dict(type='SyncBN')))
    assert type(repl.layer3[3].norm).__name__ == 'SyncBatchNorm'


@pytest.mark.parametrize('cfg,match', [
    (dict(depth=50, interval=2), r"interval removes block 1.*left neighbour's conv1"),
    (dict(depth=50, replace_blocks=[[1], [], [], []]), r"replace_blocks removes block 1"),
    (dict(depth=50, interval=1), r'interval must be an int >= 2'),
    (dict(depth=50, replace_blocks=[[0], [], [], []]), r'replace_blocks\[0\].*allowed indices'),
    (dict(depth=50, replace_blocks=[[], [], [5], []]), r'stage 2 has 6 blocks'),
    (dict(depth=50, replace_blocks=[[], [], [3]]), r'one list of 0-based block indices per stage'),
    (dict(depth=50, neighbours='left'),
     r"neighbours must be one of \('both', 'prev', 'next', 'none'\)"),
    (dict(depth=50, coefficients='single'), r"coefficients must be one of"),
    (dict(depth=50, neighbours='next', coefficients='shared'), r"needs neighbours='both'"),
    (dict(depth=50, stop_grad='yes'), r'stop_grad must be True or False'),
])
def test_bad_arguments_raise_clear_value_errors(cfg, match):
    with pytest.raises(ValueError, match=match):
        CLS.build(dict(type='ResNetRepL', **cfg))


def test_basic_block_interval_2_is_allowed():
    repl = CLS.build(dict(type='ResNetRepL', depth=34, interval=2))
    assert repl.removal_plan == [[1], [1], [1, 3], [1]]
    assert repl(torch.randn(1, 3, 64, 64))[-1].shape == (1, 512, 2, 2)


@pytest.mark.parametrize('scope', sorted(SCOPES))
@pytest.mark.parametrize('variant,deep_stem,avg_down', [('V1c', True, False), ('V1d', True, True)])
def test_deep_stem_variants(scope, variant, deep_stem, avg_down):
    repl = SCOPES[scope].build(dict(type=f'ResNet{variant}RepL', depth=50, interval=None))
    stock = SCOPES[scope].build(dict(type='ResNet', depth=50, deep_stem=deep_stem,
                                     avg_down=avg_down))
    assert repl.deep_stem and repl.avg_down == avg_down
    assert repl.state_dict().keys() == stock.state_dict().keys()
    assert any(k.startswith('stem.0.') for k in repl.state_dict())   # the 3-conv deep stem


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = CLS.build(dict(type='ResNetRepL', depth=34, replace_blocks=[[1], [2], [1, 3], [1]]))
    ckpt = CLS.build(dict(type='ResNetRepL', depth=34, replace_blocks=[[1], [2], [1, 3], [1]],
                          with_cp=True))
    ckpt.load_state_dict(plain.state_dict())
    assert ckpt.layer3[3].with_cp and not plain.layer3[3].with_cp
    x = torch.randn(2, 3, 64, 64)
    for m in (plain, ckpt):
        m(x)[-1].square().mean().backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), ckpt.named_parameters()):
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-6), name
