"""A RepL backbone recognises a checkpoint of the other form (repl_mm.core.forms): a deploy
checkpoint switches a training-form model to its deploy form (equal outputs to 1e-5), a
training checkpoint in a deploy-form model is refused -- through nn.Module.load_state_dict,
mmengine's load_checkpoint and init_cfg=Pretrained alike."""
import copy

import pytest
import torch
from mmengine.runner import load_checkpoint
from repl_deploy_tiny import (
    RESNET34_BACKBONE,
    RESNET50_BACKBONE,
    VIT_BACKBONE,
    build,
    classifier_cfg,
    trained_like,
)

from repl_mm.core.forms import (
    DEPLOY,
    TRAIN,
    CheckpointFormError,
    detect_checkpoint_form,
    iter_computing_layers,
)

CASES = {'basic': ('mmpretrain', RESNET34_BACKBONE), 'bottleneck': ('mmdet', RESNET50_BACKBONE),
         'vit': ('mmpretrain', VIT_BACKBONE),
         'vit-headwise': ('mmpretrain', dict(VIT_BACKBONE, head_wise=True)),
         'vit-mlp-only': ('mmseg', dict(VIT_BACKBONE, synthesis_branches=('mlp',)))}


def _pair(case):
    scope, cfg = CASES[case]
    x = torch.randn(2, 3, 32, 32)
    trained = trained_like(build(scope, cfg), x)
    deployed = copy.deepcopy(trained)
    deployed.switch_to_deploy()
    return scope, cfg, x, trained, deployed


def _rel(a, b):
    return max(((p - q).abs().max() / p.abs().max()).item() for p, q in zip(a, b))


@pytest.mark.parametrize('case', list(CASES))
def test_deploy_state_dict_switches_a_training_model(case):
    scope, cfg, x, trained, deployed = _pair(case)
    assert detect_checkpoint_form(trained, deployed.state_dict()) == DEPLOY
    assert detect_checkpoint_form(deployed, trained.state_dict()) in (
        TRAIN, None if case == 'vit-mlp-only' else TRAIN)
    fresh = build(scope, cfg)                 # deploy=False, random computing layers
    fresh.eval()
    assert not any(layer.deploy for _, layer in iter_computing_layers(fresh))
    fresh.load_state_dict(deployed.state_dict(), strict=True)   # keys match after the switch
    layers = list(iter_computing_layers(fresh))
    assert layers and all(layer.deploy for _, layer in layers) and fresh.deploy
    with torch.no_grad():
        assert _rel(trained(x), fresh(x)) < 1e-5


@pytest.mark.parametrize('case', list(CASES))
def test_training_state_dict_into_a_deploy_model_is_refused(case):
    scope, cfg, x, trained, deployed = _pair(case)
    target = build(scope, dict(cfg, deploy=True))
    before = copy.deepcopy(target.state_dict())
    with pytest.raises(CheckpointFormError, match='deploy form.*reparameterize_model.py'):
        target.load_state_dict(trained.state_dict(), strict=False)
    # nothing was loaded
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def _stock_resnet34():
    cfg = {k: v for k, v in RESNET34_BACKBONE.items() if k != 'replace_blocks'}
    return build('mmpretrain', dict(cfg, type='ResNet'))


def test_stock_e2e_checkpoint_into_a_deploy_model_is_refused():
    stock = _stock_resnet34()
    target = build('mmpretrain', dict(RESNET34_BACKBONE, deploy=True))
    with pytest.raises(CheckpointFormError, match='no deploy weights'):
        target.load_state_dict(stock.state_dict(), strict=False)


def test_stock_e2e_checkpoint_into_a_training_model_is_unchanged():
    """The documented E2E initialisation: only the removed blocks' keys are unexpected."""
    stock = _stock_resnet34()
    target = build('mmpretrain', RESNET34_BACKBONE)
    res = target.load_state_dict(stock.state_dict(), strict=False)
    assert not any(layer.deploy for _, layer in iter_computing_layers(target))
    assert res.unexpected_keys and all(k.startswith(('layer1.1.', 'layer2.1.', 'layer3.1.',
                                                     'layer3.3.', 'layer4.1.'))
                                       for k in res.unexpected_keys)


def _save(tmp_path, model, name, meta=None):
    path = tmp_path / name
    torch.save({'state_dict': model.state_dict(), 'meta': meta or {}}, path)
    return str(path)


@pytest.mark.parametrize('backbone', [RESNET34_BACKBONE, VIT_BACKBONE])
def test_mmengine_load_checkpoint_both_ways(tmp_path, backbone):
    x = torch.randn(2, 3, 32, 32)
    clf = trained_like(build('mmpretrain', classifier_cfg(backbone)), x)
    deploy = copy.deepcopy(clf)
    deploy.backbone.switch_to_deploy()
    train_ckpt = _save(tmp_path, clf, 'train.pth')
    deploy_ckpt = _save(tmp_path, deploy, 'deploy.pth', {'repl_deploy': True})
    with torch.no_grad():
        ref = clf(x, mode='tensor')

    # deploy checkpoint, training config: switched, equal outputs, strict
    model = build('mmpretrain', classifier_cfg(backbone))
    load_checkpoint(model, deploy_ckpt, map_location='cpu', strict=True)
    model.eval()
    assert model.backbone.deploy
    with torch.no_grad():
        torch.testing.assert_close(model(x, mode='tensor'), ref, rtol=1e-5,
                                   atol=1e-5 * ref.abs().max().item())

    # training checkpoint, deploy config: refused even with strict=False
    model = build('mmpretrain', classifier_cfg(dict(backbone, deploy=True)))
    with pytest.raises(CheckpointFormError, match='model.backbone.deploy=False'):
        load_checkpoint(model, train_ckpt, map_location='cpu', strict=False)


def test_init_cfg_pretrained_with_a_deploy_backbone_checkpoint(tmp_path):
    x = torch.randn(2, 3, 32, 32)
    clf = trained_like(build('mmpretrain', classifier_cfg(RESNET34_BACKBONE)), x)
    clf.backbone.switch_to_deploy()
    ckpt = _save(tmp_path, clf, 'deploy.pth')
    backbone = build('mmdet', dict(RESNET34_BACKBONE, init_cfg=dict(
        type='Pretrained', checkpoint=ckpt, prefix='backbone.')))
    backbone.init_weights()
    backbone.eval()
    assert backbone.deploy
    with torch.no_grad():
        a, b = clf.backbone(x)[-1:], backbone(x)[-1:]   # mmdet's ResNet returns all stages
    assert _rel(a, b) < 1e-5
