"""Huang et al.'s stochastic depth (Table IX): linear survival probabilities, a dropped branch
is not computed (conv calls and FLOPs counted), eval scales the branch by p_l exactly, RepL
retained blocks keep their original depth and computing layers are never dropped."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from repl_mm.models.stochastic_depth import (
    StochasticDepthBlock,
    apply_stochastic_depth,
    check_stochastic_depth,
    survival_probabilities,
)


def _build(cfg: dict) -> nn.Module:
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def _blocks(backbone):
    return [b for name in backbone.res_layers for b in getattr(backbone, name)
            if isinstance(b, StochasticDepthBlock)]


def test_survival_probabilities_are_linear():
    probs = survival_probabilities(15, 0.5)
    assert probs[0] == pytest.approx(1 - 0.5 / 15) and probs[-1] == pytest.approx(0.5)
    steps = [a - b for a, b in zip(probs, probs[1:])]
    assert all(s == pytest.approx(0.5 / 15) for s in steps)


@pytest.mark.parametrize('bad', [dict(p_last=0), dict(p_last=1.5), dict(p=0.5), 0.5,
                                 dict(p_last='0.5'), dict(p_last=True)])
def test_bad_stochastic_depth(bad):
    with pytest.raises(ValueError, match='stochastic_depth'):
        check_stochastic_depth(bad)


def test_e2e_backbone_probabilities_and_keys():
    plain = _build(dict(type='CifarResNet', depth=20))
    sd = _build(dict(type='CifarResNet', depth=20, stochastic_depth=dict(p_last=0.5)))
    assert list(plain.state_dict()) == list(sd.state_dict())
    blocks = _blocks(sd)
    assert [b.sd_index for b in blocks] == list(range(1, 10))
    assert [b.sd_survival for b in blocks] == pytest.approx(survival_probabilities(9, 0.5))


def test_repl_retained_blocks_keep_original_depth():
    bb = _build(dict(type='CifarResNetRepL', depth=20, replace_blocks=[[1], [1], [1]],
                     stochastic_depth=dict(p_last=0.5)))
    probs = survival_probabilities(9, 0.5)
    blocks = _blocks(bb)
    assert [b.sd_index for b in blocks] == [1, 3, 4, 6, 7, 9]
    assert [b.sd_survival for b in blocks] == pytest.approx([probs[i - 1] for i in
                                                              (1, 3, 4, 6, 7, 9)])
    layers = [getattr(bb, n)[1] for n in bb.res_layers]
    assert all(not isinstance(m, StochasticDepthBlock) for m in layers)


def _count_convs(module):
    calls = {}
    handles = []
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            calls[name] = 0

            def hook(mod, args, out, name=name):
                calls[name] += 1
            handles.append(m.register_forward_hook(hook))
    return calls, handles


def test_dropped_branch_is_not_computed():
    torch.manual_seed(0)
    bb = _build(dict(type='CifarResNet', depth=20, stochastic_depth=dict(p_last=0.5)))
    bb.train()
    x = torch.randn(2, 3, 16, 16)
    target = bb.layer2[0]            # the transition block: projection shortcut

    with FlopCounterMode(display=False) as full:
        for b in _blocks(bb):
            b.sd_survival = 1.0      # nothing dropped
        bb(x)
    target.sd_survival = 0.0         # always dropped
    calls, handles = _count_convs(bb)
    with FlopCounterMode(display=False) as dropped:
        bb(x)
    for h in handles:
        h.remove()
    assert calls['layer2.0.conv1'] == calls['layer2.0.conv2'] == 0
    assert calls['layer2.0.downsample.0'] == 1        # the shortcut still runs
    assert calls['layer2.1.conv1'] == 1
    # the FLOPs saved are exactly the branch's two 3x3 convs (16->32 stride 2, 32->32)
    hw = 8 * 8
    branch = 2 * 2 * hw * 9 * (16 * 32 + 32 * 32)
    assert full.get_total_flops() - dropped.get_total_flops() == branch
    # a dropped block outputs ReLU(shortcut)
    y = bb.layer1(bb.relu(bb.norm1(bb.conv1(x))))
    torch.testing.assert_close(target(y), F.relu(target.downsample(y)))


def test_drop_rate_follows_survival_probability():
    torch.manual_seed(0)
    bb = _build(dict(type='CifarResNet', depth=20, stochastic_depth=dict(p_last=0.5)))
    bb.train()
    last = _blocks(bb)[-1]
    runs = sum(not last.sd_dropped() for _ in range(2000))
    assert abs(runs / 2000 - 0.5) < 0.05      # 4.5 sigma of a binomial(2000, 0.5)


def _bn(norm: nn.BatchNorm2d, t):
    """The BN in eval, without module hooks."""
    return F.batch_norm(t, norm.running_mean, norm.running_var, norm.weight, norm.bias, False,
                        0.0, norm.eps)


def _branch(block, x):
    return _bn(block.norm2, block.conv2(F.relu(_bn(block.norm1, block.conv1(x)))))


def test_eval_scales_the_branch_by_survival():
    torch.manual_seed(0)
    bb = _build(dict(type='CifarResNet', depth=20, stochastic_depth=dict(p_last=0.5)))
    for m in bb.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    bb.eval()
    cases = [(bb.layer2[0], F.relu(torch.randn(2, 16, 8, 8))),     # projection shortcut
             (bb.layer3[2], F.relu(torch.randn(2, 64, 2, 2)))]     # identity shortcut
    for block, x in cases:
        p = block.sd_survival
        assert p < 1
        with torch.no_grad():
            shortcut = x if block.downsample is None else block.downsample(x)
            want = F.relu(p * _branch(block, x) + shortcut)    # Huang et al. eq. 5
            torch.testing.assert_close(block(x), want, atol=1e-6, rtol=1e-6)
    # training mode, branch kept: unscaled (eq. 3 with b_l = 1), BN on batch statistics
    bb.train()
    block = bb.layer3[2]
    block.sd_survival = 1.0
    x = F.relu(torch.randn(4, 64, 2, 2))

    def bn_train(norm, t):
        return F.batch_norm(t, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
    with torch.no_grad():
        branch = bn_train(block.norm2, block.conv2(F.relu(bn_train(block.norm1,
                                                                   block.conv1(x)))))
        torch.testing.assert_close(block(x), F.relu(branch + x), atol=1e-5, rtol=1e-5)


def test_deploy_keeps_eval_scaling():
    torch.manual_seed(0)
    bb = _build(dict(type='CifarResNetRepL', depth=20, replace_blocks=[[1], [1], [1]],
                     stochastic_depth=dict(p_last=0.5)))
    bb.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = bb(x)
        bb.switch_to_deploy()
        torch.testing.assert_close(bb(x), ref, atol=1e-5, rtol=1e-5)


def test_bottleneck_resnet_apply():
    bb = _build(dict(type='ResNetRepL', depth=50, stem_channels=8, base_channels=8,
                     interval=None, stochastic_depth=dict(p_last=0.5), init_cfg=None))
    blocks = _blocks(bb)
    assert len(blocks) == 16
    assert blocks[-1].sd_survival == pytest.approx(0.5)
    assert [b.sd_index for b in blocks] == list(range(1, 17))
    with pytest.raises(ValueError, match='p_last'):
        apply_stochastic_depth(bb, 0.0)


@pytest.mark.parametrize('norm_eval', [False, True])
def test_training_keys_on_the_block_not_the_norm(norm_eval):
    """Huang et al.: a surviving branch is unscaled while training (eq. 3) and scaled by p_l
    at test (eq. 5), also when the norms are kept in eval mode (``norm_eval=True``, the
    ``*_pretrained`` configs)."""
    torch.manual_seed(0)
    bb = _build(dict(type='CifarResNet', depth=20, norm_eval=norm_eval,
                     stochastic_depth=dict(p_last=0.5)))
    for m in bb.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    block = bb.layer3[2]
    p = block.sd_survival
    assert p < 1
    block.sd_dropped = lambda: False   # the branch survives this mini-batch
    x = F.relu(torch.randn(4, 64, 2, 2))

    def bn(norm, t, batch_stats):
        if batch_stats:
            return F.batch_norm(t, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
        return _bn(norm, t)

    def branch(batch_stats):
        return bn(block.norm2, block.conv2(F.relu(bn(block.norm1, block.conv1(x),
                                                     batch_stats))), batch_stats)
    bb.train()
    assert block.training and block.norm2.training is not norm_eval
    with torch.no_grad():
        torch.testing.assert_close(block(x), F.relu(branch(not norm_eval) + x),
                                   atol=1e-5, rtol=1e-5)
    bb.eval()
    with torch.no_grad():
        torch.testing.assert_close(block(x), F.relu(p * branch(False) + x),
                                   atol=1e-5, rtol=1e-5)
