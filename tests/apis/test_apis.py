"""repl_mm.apis: a tiny RepL classifier built from its config, its checkpoints (training and
deploy form) loaded back with identical / equivalent outputs, wrong checkpoints refused."""
import pytest
import torch
from mmengine.registry import DefaultScope

from repl_mm.adapters import build_in_scope
from repl_mm.apis import convert_checkpoint, init_model, reparameterize, switch_to_deploy

CONFIG = """default_scope = 'mmpretrain'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNetRepL', depth=34, stem_channels=8, base_channels=8,
                  replace_blocks={plan}),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=3, in_channels=64))
"""


def write_config(tmp_path, plan='[[1], [1], [1], []]', name='tiny_repl.py') -> str:
    path = tmp_path / name
    path.write_text(CONFIG.format(plan=plan))
    return str(path)


def logits(model, seed=0):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(x, mode='tensor')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, training checkpoint, the model saved in it) with non-trivial synthesis
    coefficients and BN statistics (a fresh model would hide a wrong fold)."""
    tmp = tmp_path_factory.mktemp('apis')
    config = write_config(tmp)
    torch.manual_seed(0)
    model = init_model(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(0.1 * torch.randn_like(p))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    ckpt = str(tmp / 'epoch_1.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': ['a', 'b', 'c']}}}, ckpt)
    return config, ckpt, model


def test_init_model_builds_the_repl_model_of_the_config(trained):
    config, _, _ = trained
    model = init_model(config)
    assert type(model.backbone).__name__ == 'ResNetRepL'
    assert [list(p) for p in model.backbone.removal_plan] == [[1], [1], [1], []]
    assert not model.training and model.cfg.default_scope == 'mmpretrain'
    assert logits(model).shape == (2, 3)


def test_checkpoint_loads_back_with_identical_outputs(trained):
    config, ckpt, saved = trained
    loaded = init_model(config, ckpt)
    assert torch.equal(logits(loaded), logits(saved.eval()))
    assert loaded.dataset_meta == {'classes': ['a', 'b', 'c']}
    # the comparison can fail: a fresh model does not give these outputs
    assert not torch.allclose(logits(init_model(config)), logits(saved))


def test_deploy_form_in_memory_and_from_a_deploy_checkpoint(trained, tmp_path):
    config, ckpt, saved = trained
    ref = logits(saved.eval())
    folded = init_model(config, ckpt, deploy=True)
    assert folded.backbone.deploy
    assert set(folded.state_dict()) != set(saved.state_dict())   # folded weights
    assert (logits(folded) - ref).abs().max() / ref.abs().max() < 1e-4

    out = str(tmp_path / 'deploy.pth')
    result = reparameterize(config, ckpt, out)
    assert result.max_rel_diff < 1e-4 and result.meta['repl_deploy'] is True
    # the training config loads the deploy checkpoint: the backbone switches itself
    deployed = init_model(config, out)
    assert deployed.backbone.deploy
    assert torch.equal(logits(deployed), logits(result.model))
    assert (logits(deployed) - ref).abs().max() / ref.abs().max() < 1e-4
    with pytest.raises(FileExistsError, match='--force'):
        reparameterize(config, ckpt, out)


def test_switch_to_deploy_matches_the_training_form(trained):
    config, ckpt, saved = trained
    model = init_model(config, ckpt)
    ref = logits(model)
    assert switch_to_deploy(model) is model and model.backbone.deploy
    assert (logits(model) - ref).abs().max() / ref.abs().max() < 1e-4
    plain = build_in_scope(dict(type='ResNet', depth=18), 'mmpretrain')
    with pytest.raises(ValueError, match='switch_to_deploy'):
        switch_to_deploy(plain)


def test_a_checkpoint_missing_a_key_is_refused_naming_it(trained, tmp_path):
    config, ckpt, saved = trained
    state = dict(saved.state_dict())
    del state['head.fc.weight']
    bad = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': state}, bad)
    with pytest.raises(ValueError, match=r'head\.fc\.weight'):
        init_model(config, bad)


def test_a_checkpoint_of_another_plan_is_refused(trained, tmp_path):
    _, ckpt, _ = trained
    other = write_config(tmp_path, plan='[[1], [], [1, 3], [1]]', name='other.py')
    with pytest.raises(ValueError, match='does not fit config'):
        init_model(other, ckpt)


def test_bad_device_and_missing_checkpoint_are_one_line(trained):
    config, _, _ = trained
    with pytest.raises(ValueError, match='device'):
        init_model(config, device='gpu0')
    with pytest.raises(ValueError, match='nope.pth'):
        init_model(config, 'nope.pth')


def test_convert_checkpoint_copies_retained_blocks_and_drops_removed_ones(tmp_path):
    torch.manual_seed(0)
    stock = build_in_scope(dict(type='ResNet', depth=34), 'mmpretrain')
    src, dst = str(tmp_path / 'r34.pth'), str(tmp_path / 'r34_repl.pth')
    torch.save(stock.state_dict(), src)
    report = convert_checkpoint(src, dst, depth=34, replace_blocks=[[1], [], [], []])
    out = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(out['backbone.layer1.0.conv1.weight'],
                       stock.state_dict()['layer1.0.conv1.weight'])
    assert 'backbone.layer1.1.conv1.weight' not in out
    assert 'layer1.1.conv1.weight' in report.dropped
    assert report.removal_plan == [[1], [], [], []]


def test_build_in_scope_meta_device_and_scope_left_alone():
    assert DefaultScope.get_current_instance() is None
    bb = build_in_scope(dict(type='VisionTransformerRepL', arch='b', img_size=224, interval=4),
                        'mmpretrain', device='meta')
    assert next(bb.parameters()).device.type == 'meta'
    assert DefaultScope.get_current_instance() is None
    with pytest.raises(ValueError, match='device'):
        build_in_scope(dict(type='ResNet', depth=18), 'mmpretrain', device='cuda')
    with pytest.raises(ValueError, match='default_scope'):
        build_in_scope(dict(type='ResNet', depth=18), 'mmfoo')


def test_readme_snippet_runs(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / 'README.md').read_text()
    section = readme.split('### From Python: `repl_mm.apis`', 1)[1].split('\n## ', 1)[0]
    (snippet,) = re.findall(r'```python\n(.*?)```', section, flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, 'README.md', 'exec'), {})
    assert capsys.readouterr().out.strip().endswith('torch.Size([1, 10])')
    assert (tmp_path / 'deploy.pth').is_file()
