"""Adaptive-RepL through the converter, load_deploy_model (export / quantize / benchmarks) and
tools/test.py (issue 23, item 1): the checkpoint's learned mask is folded, not the initial
plan; the deploy checkpoint records its plan and loads with the same adaptive config; an
adaptive checkpoint without a mask is refused; the converter's self-check compares with the
model as trained and fails on a wrong fold."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from repl_deploy_configs import cls_config, dataset_meta
from repl_deploy_tiny import RESNET34_BACKBONE, trained_like

import repl_mm.deploy.fold as deploy_mod
from repl_mm.deploy import (
    build_model_from_config,
    load_deploy_model,
    reparameterize_checkpoint,
    tensor_outputs,
)
from repl_mm.testing.tools import load_tool

#: the initial (fixed) plan of the config and the mask the "run" learned; same |F| = 5
INITIAL = [[1], [1], [1, 3], [1]]
LEARNED = [[1], [2], [2, 4], [1]]


@pytest.fixture(scope='module')
def adaptive_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('adaptive_case')
    path = cls_config(tmp, dict(RESNET34_BACKBONE, adaptive=True))
    cfg = Config.fromfile(path)
    cfg.custom_imports = dict(imports=['repl_mm', 'repl_mm.engine.hooks.adaptive_repl_hook'],
                              allow_failed_imports=False)
    cfg.custom_hooks = [dict(type='AdaptiveRepLHook')]
    cfg.dump(path)
    torch.manual_seed(0)
    model, cfg = build_model_from_config(path)
    assert model.backbone.adaptive_mask == INITIAL
    model.backbone.set_adaptive_mask(LEARNED)
    trained_like(model, torch.randn(2, 3, 32, 32))
    sd = model.state_dict()
    meta = {'dataset_meta': dataset_meta(path), 'epoch': 1, 'iter': 4, 'cfg': cfg.pretty_text}
    train = str(tmp / 'adaptive_epoch_1.pth')
    torch.save({'state_dict': sd, 'meta': meta,
                'adaptive_repl': dict(mask=LEARNED, count=5, scores=None)}, train)
    assert model.backbone.mask_from_buffer(sd['backbone.adaptive_mask_state']) == LEARNED
    legacy = {k: v for k, v in sd.items() if k != 'backbone.adaptive_mask_state'}
    nomask = str(tmp / 'adaptive_nomask.pth')   # neither adaptive_repl nor the buffer
    torch.save({'state_dict': legacy, 'meta': meta}, nomask)
    return path, train, nomask, tmp


def _as_trained(config, train, mask):
    model, _ = build_model_from_config(config)
    model.load_state_dict(torch.load(train, weights_only=True)['state_dict'])
    model.backbone.set_adaptive_mask(mask)
    return model.eval()


def _x():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))


def test_converter_folds_the_checkpoint_mask_and_records_it(adaptive_case):
    config, train, _, tmp = adaptive_case
    dst = str(tmp / 'deploy.pth')
    res = reparameterize_checkpoint(config, train, dst, input_size=(32, 32))
    assert res.max_rel_diff < 1e-5
    assert res.meta['repl_plan'] == LEARNED and res.meta['repl_adaptive_mask'] == LEARNED
    keys = torch.load(dst, weights_only=True)['state_dict']
    assert 'backbone.layer2.2.conv.weight' in keys and 'backbone.layer2.1.conv1.weight' in keys
    x = _x()
    want = tensor_outputs(_as_trained(config, train, LEARNED), x)[0]
    wrong = tensor_outputs(_as_trained(config, train, INITIAL), x)[0]
    got = tensor_outputs(res.model.eval(), x)[0]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert (wrong - want).abs().max() > 100 * (got - want).abs().max()


def test_adaptive_checkpoint_without_mask_is_refused(adaptive_case):
    config, _, nomask, tmp = adaptive_case
    dst = tmp / 'never.pth'
    with pytest.raises(ValueError, match="no 'adaptive_repl' entry"):
        reparameterize_checkpoint(config, nomask, str(dst), input_size=(32, 32))
    assert not dst.exists()
    with pytest.raises(ValueError, match="no 'adaptive_repl' entry"):
        load_deploy_model(config, nomask)


def test_mask_travels_in_the_state_dict(adaptive_case):
    """Every loader (mmengine's load_checkpoint, which the toolboxes' inferencers use)
    restores the trained mask with the weights; a checkpoint whose two records of the mask
    disagree is refused."""
    from mmengine.runner import load_checkpoint
    config, train, _, tmp = adaptive_case
    model, _ = build_model_from_config(config)
    assert model.backbone.adaptive_mask == INITIAL
    load_checkpoint(model, train, map_location='cpu', strict=True)
    assert model.backbone.adaptive_mask == LEARNED
    # the buffer alone (no adaptive_repl entry) is enough for the converter
    ck = torch.load(train, weights_only=True)
    only_buffer = str(tmp / 'only_buffer.pth')
    torch.save({k: v for k, v in ck.items() if k != 'adaptive_repl'}, only_buffer)
    res = reparameterize_checkpoint(config, only_buffer, str(tmp / 'from_buffer.pth'),
                                    input_size=(32, 32))
    assert res.meta['repl_plan'] == LEARNED
    ck['adaptive_repl'] = dict(mask=INITIAL, count=5, scores=None)
    both = str(tmp / 'two_masks.pth')
    torch.save(ck, both)
    with pytest.raises(ValueError, match='two different Adaptive-RepL masks'):
        reparameterize_checkpoint(config, both, str(tmp / 'never2.pth'), input_size=(32, 32))
    assert not (tmp / 'never2.pth').exists()


def test_self_check_fails_on_a_wrong_fold(adaptive_case, monkeypatch):
    """The check compares with the model as trained: a fold with the initial plan (what the
    converter did before) must be refused, and so must a fold that corrupts one weight."""
    config, train, _, tmp = adaptive_case
    real = deploy_mod.switch_model_to_deploy

    def initial_plan_fold(model):
        model.backbone.set_adaptive_mask(INITIAL)
        return real(model)
    monkeypatch.setattr(deploy_mod, 'switch_model_to_deploy', initial_plan_fold)
    dst = tmp / 'wrong.pth'
    with pytest.raises(ValueError, match='differs from the training form'):
        reparameterize_checkpoint(config, train, str(dst), input_size=(32, 32))
    assert not dst.exists()

    def corrupting_fold(model):
        real(model)
        with torch.no_grad():
            model.backbone.layer3[2].conv.bias.add_(0.05)
        return model
    monkeypatch.setattr(deploy_mod, 'switch_model_to_deploy', corrupting_fold)
    with pytest.raises(ValueError, match='differs from the training form'):
        reparameterize_checkpoint(config, train, str(dst), input_size=(32, 32))
    assert not dst.exists()


def test_load_deploy_model_uses_the_mask_for_both_forms(adaptive_case):
    config, train, _, tmp = adaptive_case
    dst = str(tmp / 'deploy_for_load.pth')
    reparameterize_checkpoint(config, train, dst, input_size=(32, 32))
    x = _x()
    want = tensor_outputs(_as_trained(config, train, LEARNED), x)[0]
    for ckpt in (train, dst):
        model, _ = load_deploy_model(config, ckpt)
        assert model.backbone.removal_plan == LEARNED and model.backbone.deploy
        torch.testing.assert_close(tensor_outputs(model, x)[0], want, atol=1e-5, rtol=1e-4)
    # a deploy checkpoint whose recorded plan disagrees with its keys is refused
    ck = torch.load(dst, weights_only=True)
    ck['meta']['repl_plan'] = INITIAL
    bad = str(tmp / 'deploy_badplan.pth')
    torch.save(ck, bad)
    with pytest.raises(ValueError, match='folded with the plan'):
        load_deploy_model(config, bad)


def test_test_tool_loads_the_deploy_checkpoint_with_the_adaptive_config(adaptive_case):
    config, train, _, tmp = adaptive_case
    dst = str(tmp / 'deploy_for_test.pth')
    reparameterize_checkpoint(config, train, dst, input_size=(32, 32))
    tool = load_tool('tools/test.py')
    outs = {}
    for tag, ckpt in (('train', train), ('deploy', dst)):
        out = str(tmp / f'{tag}.pkl')
        tool.main([config, ckpt, '--work-dir', str(tmp / f'w_{tag}'), '--out', out])
        with open(out, 'rb') as f:
            outs[tag] = np.stack([r['pred_score'].numpy() for r in pickle.load(f)])
    a, b = outs['train'], outs['deploy']
    assert a.shape[0] == 12
    assert np.abs(a - b).max() <= 1e-5 * max(np.abs(a).max(), 1e-3)
