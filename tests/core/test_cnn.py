"""The CNN computing layers against the paper's formulas, on plain torch neighbour blocks."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repl_mm.core.cnn import BasicBlockComputingLayer, BottleneckComputingLayer, fold_batchnorm
from repl_mm.core.stage import RepLStage, computing_layers
from repl_mm.core.synthesis import normalize_rows


class Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(c), nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class Bottle(nn.Module):
    def __init__(self, c, b, groups=1, dilation=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c, b, 1, bias=False)
        self.conv2 = nn.Conv2d(b, b, 3, padding=dilation, dilation=dilation, groups=groups,
                               bias=False)
        self.conv3 = nn.Conv2d(b, c, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.bn(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))))


def randomize_bn(module):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)


def test_basic_layer_is_eq9_to_eq11():
    torch.manual_seed(0)
    prev, nxt = Basic(8), Basic(8)
    layer = BasicBlockComputingLayer(8)
    with torch.no_grad():
        layer.synthesis.alpha.uniform_(-1, 1)
        layer.synthesis.beta.uniform_(-1, 1)
    randomize_bn(layer)
    layer.eval()
    x = torch.randn(2, 8, 6, 6)
    eps = 1e-5
    wp = prev.conv2.weight / torch.sqrt((prev.conv2.weight ** 2).sum((1, 2, 3), keepdim=True) + eps)
    wn = nxt.conv1.weight / torch.sqrt((nxt.conv1.weight ** 2).sum((1, 2, 3), keepdim=True) + eps)
    w_hat = (layer.synthesis.alpha.view(-1, 1, 1, 1) * wp
             + layer.synthesis.beta.view(-1, 1, 1, 1) * wn)
    expected = F.relu(x + layer.norm(F.conv2d(x, w_hat, padding=1)))
    assert torch.allclose(layer(x, prev, nxt), expected, atol=1e-6)
    # eq. 44: a_r = 4C trainable parameters
    assert sum(p.numel() for p in layer.parameters()) == 4 * 8


def test_bottleneck_layer_is_eq13_to_eq15():
    torch.manual_seed(0)
    c, b = 16, 4
    prev, nxt = Bottle(c, b, groups=2, dilation=2), Bottle(c, b, groups=2, dilation=2)
    layer = BottleneckComputingLayer(c, b, groups=2, padding=2, dilation=2)
    randomize_bn(layer)
    layer.eval()
    x = torch.randn(2, c, 7, 7)
    w_mid = 0.5 * normalize_rows(prev.conv2.weight) + 0.5 * normalize_rows(nxt.conv2.weight)
    z1 = F.relu(F.conv2d(x, prev.conv1.weight))
    z2 = F.relu(F.conv2d(z1, w_mid, padding=2, dilation=2, groups=2))
    expected = F.relu(x + layer.norm(F.conv2d(z2, nxt.conv3.weight)))
    assert torch.allclose(layer(x, prev, nxt), expected, atol=1e-6)
    # eq. 47: a_r = 2B + 2C
    assert sum(p.numel() for p in layer.parameters()) == 2 * b + 2 * c


@pytest.mark.parametrize('neighbours,coefficients,count', [
    ('prev', 'separate', 8 + 16), ('next', 'separate', 8 + 16), ('both', 'shared', 8 + 16)])
def test_variant_parameter_counts(neighbours, coefficients, count):
    layer = BasicBlockComputingLayer(8, neighbours=neighbours, coefficients=coefficients)
    assert sum(p.numel() for p in layer.parameters()) == count


def test_single_neighbour_uses_only_that_neighbour():
    torch.manual_seed(0)
    prev, nxt = Basic(4), Basic(4)
    x = torch.randn(1, 4, 5, 5)
    only_prev = BasicBlockComputingLayer(4, neighbours='prev').eval()
    out = only_prev(x, prev, nxt)
    with torch.no_grad():
        nxt.conv1.weight.mul_(-3)
    assert torch.equal(out, only_prev(x, prev, nxt))


def make_stage(block, n=5, removed=(3,), **layer_kwargs):
    blocks = [block() for _ in range(n)]
    children = []
    for i, blk in enumerate(blocks):
        if i in removed:
            if hasattr(blk, 'conv3'):
                layer = BottleneckComputingLayer(blk.conv3.out_channels, blk.conv2.out_channels,
                                                 groups=blk.conv2.groups,
                                                 padding=blk.conv2.padding[0],
                                                 dilation=blk.conv2.dilation[0], **layer_kwargs)
            else:
                layer = BasicBlockComputingLayer(blk.conv2.out_channels, **layer_kwargs)
            children.append(layer)
        else:
            children.append(blk)
    return RepLStage(*children)


@pytest.mark.parametrize('stop_grad', [True, False])
def test_stop_gradient_reaches_neighbours_or_not(stop_grad):
    torch.manual_seed(0)
    stage = make_stage(lambda: Basic(4), stop_grad=stop_grad)
    x = torch.randn(2, 4, 5, 5)
    # a loss that depends on the computing layer only through its output: gradient of the
    # synthesis path alone is the difference between the full and a detached-weight run.
    stage[3](stage[2](x), stage[2], stage[4]).sum().backward()
    g = stage[2].conv2.weight.grad       # W_{r-1,2}: own path gives a grad anyway
    h = stage[4].conv1.weight.grad       # W_{r+1,1}: reached only through the synthesis
    assert g is not None
    if stop_grad:
        assert h is None
    else:
        assert h is not None and h.abs().sum() > 0
    assert stage[3].synthesis.alpha.grad.abs().sum() > 0


@pytest.mark.parametrize('kind', ['basic', 'bottleneck'])
def test_deploy_equivalence_and_no_neighbour_reference(kind):
    torch.manual_seed(0)
    block = (lambda: Basic(8)) if kind == 'basic' else (lambda: Bottle(16, 4, 2, 2))
    stage = make_stage(block, n=9, removed=(3, 7))
    for _, layer in computing_layers(stage):
        with torch.no_grad():
            layer.synthesis.alpha.uniform_(-1, 1)
            layer.synthesis.beta.uniform_(-1, 1)
    randomize_bn(stage)
    stage.eval()
    x = torch.randn(2, stage[0].conv1.in_channels, 8, 8)
    ref = stage(x)
    deployed = copy.deepcopy(stage)
    deployed.switch_to_deploy()
    out = deployed(x)
    assert ((out - ref).abs().max() / ref.abs().max()) < 1e-5
    for _, layer in computing_layers(deployed):
        assert layer.deploy and not hasattr(layer, 'synthesis') and not hasattr(layer, 'norm')
    # the deploy layer works with no neighbours at all
    layer = deployed[3]
    inp = torch.randn(1, layer.channels, 4, 4)
    assert layer(inp).shape == inp.shape
    # the deploy state_dict loads into a stage built with deploy=True
    fresh = make_stage(block, n=9, removed=(3, 7), deploy=True)
    fresh.load_state_dict(deployed.state_dict())
    assert torch.allclose(fresh.eval()(x), out)


def test_fold_batchnorm_eq32():
    bn = nn.BatchNorm2d(3)
    randomize_bn(bn)
    bn.eval()
    w = torch.randn(3, 2, 3, 3)
    x = torch.randn(1, 2, 5, 5)
    wd, bd = fold_batchnorm(w, bn)
    assert torch.allclose(F.conv2d(x, wd, bd), bn(F.conv2d(x, w)), atol=1e-6)


def test_training_form_needs_neighbours_and_stage_checks_positions():
    layer = BasicBlockComputingLayer(4)
    with pytest.raises(ValueError, match='needs its neighbours'):
        layer(torch.randn(1, 4, 3, 3))
    with pytest.raises(ValueError, match='needs a retained block on each side'):
        RepLStage(Basic(4), BasicBlockComputingLayer(4))
