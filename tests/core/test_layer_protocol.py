"""One computing-layer protocol for CNN and ViT layers (repl_mm.core.layer, .neighbours):
no-argument ``switch_to_deploy()`` everywhere, and a generic walker over ``model.modules()``
(parents first, as timm's ``reparameterize`` and mmpretrain's converter do) converts exactly."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope

from repl_mm.adapters import get_toolbox
from repl_mm.core import (
    BasicBlockComputingLayer,
    BottleneckComputingLayer,
    ComputingLayer,
    ConvComputingLayer,
    RepLStage,
    ViTComputingLayer,
    computing_layers,
    fold_layers,
    forward_layer,
)


def generic_walker(model: torch.nn.Module) -> int:
    """What a toolbox-agnostic converter does: call every switch_to_deploy(), parents first."""
    calls = 0
    for m in model.modules():
        if hasattr(m, 'switch_to_deploy'):
            m.switch_to_deploy()
            calls += 1
    return calls


def build(scope, **cfg):
    with DefaultScope.overwrite_default_scope(scope):
        return get_toolbox(scope).registry.build(cfg)


CASES = {
    # name: (scope, backbone config, input, expected number of computing layers)
    'resnet50-bottleneck': ('mmdet', dict(type='ResNetRepL', depth=50, base_channels=16,
                                          replace_blocks=[[], [2], [2, 4], []]),
                            (2, 3, 64, 64), 3),
    'resnet34-basic': ('mmpretrain', dict(type='ResNetRepL', depth=34, base_channels=16,
                                          replace_blocks=[[1], [1], [1, 3], [1]]),
                       (2, 3, 64, 64), 5),
    'cifar-resnet32': ('mmpretrain', dict(type='CifarResNetRepL', depth=32), (2, 3, 32, 32), 3),
    'vit-tiny': ('mmpretrain', dict(type='VisionTransformerRepL', arch='deit-tiny', img_size=32,
                                    patch_size=8, drop_path_rate=0.1), (2, 3, 32, 32), 2),
}


@pytest.mark.parametrize('name', list(CASES))
def test_generic_walker_converts_exactly(name):
    torch.manual_seed(0)
    scope, cfg, shape, n_layers = CASES[name]
    model = build(scope, **cfg)
    # train a little so BN statistics and coefficients are not at their initial values
    model.train()
    for layer in dict(computing_layers(model)).values():
        for p in layer.parameters():
            p.data.add_(0.1 * torch.randn_like(p))
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(*shape))
    model.eval()
    x = torch.randn(*shape)
    ref = model(x)
    layers = dict(computing_layers(model))
    assert len(layers) == n_layers
    assert all(not m.deploy for m in layers.values())
    calls = generic_walker(model)
    assert calls >= 1 + n_layers  # the backbone, (the stages,) every computing layer
    assert all(m.deploy for _, m in computing_layers(model))
    out = model(x)
    for a, b in zip(ref, out):
        assert (a - b).abs().max().item() <= 1e-5 * max(1.0, a.abs().max().item())
    # a second walk does nothing
    snapshot = copy.deepcopy(model.state_dict())
    generic_walker(model)
    assert all(torch.equal(snapshot[k], v) for k, v in model.state_dict().items())


def test_training_form_layer_alone_refuses_no_argument_switch():
    layer = BasicBlockComputingLayer(8)
    with pytest.raises(RuntimeError, match=r'switch_to_deploy\(\) on the backbone'):
        layer.switch_to_deploy()
    vit = ViTComputingLayer(16, 2, 32)
    with pytest.raises(RuntimeError, match='fold\\(prev, next\\)'):
        vit.switch_to_deploy()
    # in deploy form the no-argument call is a no-op
    BasicBlockComputingLayer(8, deploy=True).switch_to_deploy()
    ViTComputingLayer(16, 2, 32, deploy=True).switch_to_deploy()


def test_one_base_for_cnn_and_vit_layers():
    assert issubclass(ConvComputingLayer, ComputingLayer)
    assert issubclass(BasicBlockComputingLayer, ComputingLayer)
    assert issubclass(BottleneckComputingLayer, ComputingLayer)
    assert issubclass(ViTComputingLayer, ComputingLayer)
    vit = build('mmpretrain', type='VisionTransformerRepL', arch='deit-tiny', img_size=32,
                patch_size=8)
    assert [n for n, _ in computing_layers(vit)] == ['layers.3', 'layers.7']


def test_forward_layer_passes_neighbours_and_fold_layers_counts():
    from mmpretrain.models.backbones.resnet import BasicBlock
    torch.manual_seed(0)
    blocks = [BasicBlock(8, 8), BasicBlockComputingLayer(8), BasicBlock(8, 8)]
    for b in blocks:
        b.eval()
    x = torch.randn(1, 8, 8, 8)
    y = blocks[0](x)
    want = blocks[2](blocks[1](y, blocks[0], blocks[2]))
    got = x
    for i in range(3):
        got = forward_layer(blocks, i, got)
    torch.testing.assert_close(got, want)
    assert fold_layers(blocks) == 1 and blocks[1].deploy
    assert fold_layers(blocks) == 0
    again = x
    for i in range(3):
        again = forward_layer(blocks, i, again)
    torch.testing.assert_close(again, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='position 2'):
        RepLStage(BasicBlock(8, 8), BasicBlock(8, 8), BasicBlockComputingLayer(8))
