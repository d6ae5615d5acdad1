"""The cost model of §V-B (repl_mm.analysis.cost_model): eq. 42 exact, eq. 53 up to F_synth,
eq. 58, and the closed forms of eq. 43-57 against counted modules."""
import pytest
import torch
from mmpretrain.registry import MODELS as CLS

from repl_mm.analysis import cost_model as cost
from repl_mm.analysis.blocks import backbone_stages
from repl_mm.analysis.closed_forms import (
    basic_block_params,
    bottleneck_params,
    eta_basic,
    eta_vit,
    flop_ratio_eq55,
    param_ratio_eq52,
    vit_block_params,
)
from repl_mm.analysis.counters import count_flops, count_saved_bytes, num_params
from repl_mm.analysis.site_timing import paired_time_ratio, time_sites
from repl_mm.analysis.sites import capture_block_inputs, site_costs


def build_pair(e2e_cfg: dict, **repl_args):
    typ = e2e_cfg['type']
    e2e = CLS.build(dict(e2e_cfg))
    repl = CLS.build(dict(e2e_cfg, type=typ + 'RepL', **repl_args))
    e2e.train()  # mm ResNet.train returns None
    repl.train()
    return e2e, repl


def predict(e2e, repl, shape, device='meta'):
    """The CostModel of ``repl``'s plan, from the E2E backbone alone (meta device)."""
    x = torch.randn(shape)
    inputs = capture_block_inputs(e2e, lambda: e2e(x))
    fwd = count_flops(lambda: e2e(x)).total
    act = count_saved_bytes(lambda: e2e(x), e2e).activation
    sites = site_costs(e2e, repl, inputs, device=device)
    return cost.CostModel(sites, repl.removal_plan, num_params(e2e), num_params(e2e, True),
                          fwd, act, interval=getattr(repl, 'interval', None))


CASES = {
    'resnet18': (dict(type='ResNet', depth=18), (1, 3, 64, 64), {}),
    'resnet50': (dict(type='ResNet', depth=50), (2, 3, 64, 64), {}),
    'cifar32': (dict(type='CifarResNet', depth=32), (2, 3, 16, 16), {}),
    'resnet18-explicit': (dict(type='ResNet', depth=18), (2, 3, 32, 32), {}),
}


@pytest.mark.parametrize('case,repl_args', [
    ('resnet18', dict(replace_blocks=[[], [], [], []])),   # 2 blocks per stage: nothing to remove
    ('resnet18', dict(interval=None)),
    ('resnet50', {}),
    ('resnet50', dict(interval=3)),
    ('cifar32', {}),
    ('cifar32', dict(interval=2)),
    ('cifar32', dict(neighbours='prev')),
    ('cifar32', dict(coefficients='shared')),
    ('cifar32', dict(remove_only=True)),
    ('cifar32', dict(neighbours='none')),      # Table VI "no weights": own operators
    ('resnet50', dict(neighbours='none')),
])
def test_eq42_predicted_params_equal_counted(case, repl_args):
    e2e_cfg, shape, _ = CASES[case]
    e2e, repl = build_pair(e2e_cfg, **repl_args)
    cm = predict(e2e, repl, shape)
    assert cm.pred_params == num_params(repl)
    assert cm.pred_trainable_params == num_params(repl, trainable=True)
    removed = sum(len(p) for p in repl.removal_plan)
    assert len(cm.sites) == removed
    if removed:
        assert num_params(repl) < num_params(e2e)


def test_eq42_frozen_and_non_trainable_norm():
    """mm detector style: frozen stem + stage 1, BN affine not trainable: a_r then counts only
    the coefficients as trainable (eq. 47 minus the BN's 2C)."""
    cfg = dict(type='ResNet', depth=50, frozen_stages=1,
               norm_cfg=dict(type='BN', requires_grad=False))
    e2e, repl = build_pair(cfg, interval=3)
    cm = predict(e2e, repl, (1, 3, 64, 64))
    assert cm.pred_params == num_params(repl)
    assert cm.pred_trainable_params == num_params(repl, trainable=True)
    site = cm.sites[0]
    b, c = 128, 512  # layer2: B = 128, C = 512
    assert site.layer_params == 2 * b + 2 * c
    assert site.layer_trainable_params == 2 * b


@pytest.mark.parametrize('depth,bottleneck', [(18, False), (50, True)])
def test_closed_forms_eq43_eq46_match_counted_blocks(depth, bottleneck):
    e2e = CLS.build(dict(type='ResNet', depth=depth))
    for stage in backbone_stages(e2e):
        for _, (name, block) in list(stage.items())[1:]:  # non-transition blocks
            c = block.conv2.out_channels if not bottleneck else block.conv3.out_channels
            if bottleneck:
                want = bottleneck_params(c, block.conv2.out_channels)
            else:
                want = basic_block_params(c)
            assert num_params(block) == want, name


def test_closed_form_eq49_matches_counted_vit_block():
    vit = CLS.build(dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=8))
    d = vit.embed_dims
    assert num_params(vit.layers[0]) == vit_block_params(d) == 12 * d * d + 13 * d


def test_eq53_flops_predicted_equal_measured_up_to_synthesis():
    """FlopCounterMode counts convolutions only, so the measured RepL forward FLOPs equal the
    eq. 53 prediction without F_synth, and eta_r = 1/2 exactly for BasicBlocks (eq. 56)."""
    for case in ('resnet18-explicit', 'cifar32', 'resnet50'):
        e2e_cfg, shape, _ = CASES[case]
        args = dict(replace_blocks=[[], [], [], []]) if case == 'resnet18-explicit' else {}
        e2e, repl = build_pair(e2e_cfg, **args)
        cm = predict(e2e, repl, shape)
        x = torch.randn(shape)
        assert cm.pred_flops == count_flops(lambda: repl(x)).total, case
    e2e, repl = build_pair(dict(type='CifarResNet', depth=32))
    cm = predict(e2e, repl, (2, 3, 16, 16))
    assert [s.eta for s in cm.sites] == [eta_basic()] * 3
    assert cm.synthesis_flops > 0
    # Bottleneck computing layer of eq. 15 runs the same three convolutions: eta = 1
    e2e, repl = build_pair(dict(type='ResNet', depth=50))
    assert [s.eta for s in predict(e2e, repl, (1, 3, 64, 64)).sites] == [1.0]


@pytest.mark.parametrize('extra', [{}, dict(with_cp=True), dict(drop_path_rate=0.2)])
def test_eq58_activation_predicted_equal_measured(extra):
    e2e, repl = build_pair(dict(type='CifarResNet', depth=32, **extra))
    cm = predict(e2e, repl, (2, 3, 16, 16))
    x = torch.randn(2, 3, 16, 16)
    measured = count_saved_bytes(lambda: repl(x), repl)
    assert measured.activation == cm.pred_activation
    assert measured.synthesis == cm.pred_aux
    if extra.get('with_cp'):
        # under checkpointing a block keeps only its output, and so does a computing layer
        # (whose synthesis is recomputed in backward too)
        assert cm.pred_activation == cm.activation and cm.pred_aux == 0
    else:
        assert cm.pred_activation < cm.activation and cm.pred_aux > 0


def test_eq58_bottleneck_saves_the_two_inner_bn_inputs():
    e2e, repl = build_pair(dict(type='ResNet', depth=50))
    cm = predict(e2e, repl, (1, 3, 64, 64))
    (site,) = cm.sites  # layer3.3
    n, c, h, w = site.input_shape
    b = c // 4
    # the inputs of bn1 and bn2 (conv1, conv2 outputs) and their saved mean / invstd, fp32
    assert site.saved_delta == (2 * n * b * h * w + 2 * 2 * b) * 4
    x = torch.randn(1, 3, 64, 64)
    assert count_saved_bytes(lambda: repl(x), repl).activation == cm.pred_activation


def test_vit_prediction_matches_measurement():
    cfg = dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=8)
    for args in ({}, dict(head_wise=True), dict(synthesis_branches=('attn',))):
        e2e, repl = build_pair(cfg, **args)
        cm = predict(e2e, repl, (2, 3, 32, 32))
        x = torch.randn(2, 3, 32, 32)
        assert cm.pred_params == num_params(repl)
        assert cm.pred_flops == count_flops(lambda: repl(x)).total
        assert count_saved_bytes(lambda: repl(x), repl).activation == cm.pred_activation
        heads = repl.layers[0].attn.num_heads
        assert cm.sites[0].layer_params == (2 * heads if args.get('head_wise') else 2)


@pytest.mark.parametrize('cfg,shape', [
    (dict(type='CifarResNet', depth=32), (2, 3, 16, 16)),
    # attention: meta runs the fused kernel like the CPU (FusedAttentionOnMeta)
    (dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=8),
     (2, 3, 32, 32)),
])
def test_site_costs_on_meta_equal_cpu(cfg, shape):
    e2e, repl = build_pair(cfg)
    meta = predict(e2e, repl, shape, device='meta')
    cpu = predict(e2e, repl, shape, device='cpu')
    for a, b in zip(meta.sites, cpu.sites):
        assert (a.flops, a.layer_flops, a.train_flops_delta, a.saved_delta,
                a.layer_synthesis) == (b.flops, b.layer_flops, b.train_flops_delta,
                                       b.saved_delta, b.layer_synthesis)


def test_homogeneous_approximations():
    assert param_ratio_eq52(4, 0, 100) == 0.75
    assert flop_ratio_eq55(4, 0.5) == 0.875
    assert eta_vit(197, 384) == pytest.approx(1 / (12 + 2 * 197 / 384))
    e2e, repl = build_pair(dict(type='CifarResNet', depth=32))
    cm = predict(e2e, repl, (2, 3, 16, 16))
    cm.num_blocks = 15
    hom = cm.homogeneous(15)
    assert hom['flops_eq55'] == pytest.approx(0.875)       # 1 - (1 - 1/2) / 4
    assert hom['flops_eq55_plan'] == pytest.approx(0.9)    # R/N = 3/15
    assert cm.ratios()['flops'] == pytest.approx(cm.pred_flops / cm.flops)


def test_time_sites_fill_times_and_share_equal_sites():
    e2e, repl = build_pair(dict(type='CifarResNet', depth=32))
    cm = predict(e2e, repl, (2, 3, 8, 8))
    time_sites(cm.sites, e2e, repl, lambda p: torch.optim.SGD(p, lr=0.01), reps=1,
                    warmup=0)
    for s in cm.sites:
        assert s.time > 0 and s.layer_time > 0 and s.synthesis_time > 0
        assert s.timed_as == s.name  # one site per stage, each shape distinct
    cm.time = 1.0
    assert cm.pred_time == pytest.approx(
        1.0 - sum(s.time - s.layer_time for s in cm.sites))
    samples = {f'{s.name}:block': [s.time] for s in cm.sites}
    samples.update({f'{s.name}:layer': [s.layer_time] for s in cm.sites})
    assert paired_time_ratio(cm.sites, [1.0], samples) == pytest.approx(cm.pred_time)


def test_backbone_stages_rejects_other_modules():
    with pytest.raises(ValueError, match='not a supported backbone'):
        backbone_stages(torch.nn.Linear(2, 2))
