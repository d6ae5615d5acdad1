"""repl_mm.analysis.specs: spec loading from presets and config files, E2E twins."""
import pytest

from repl_mm.analysis import specs


def test_load_spec_preset_and_twin():
    spec = specs.load_spec('resnet32-cifar', {'model.backbone.interval': 3})
    assert spec.scope == 'mmpretrain' and spec.input_size == (32, 32)
    assert spec.model['backbone'] == dict(type='CifarResNetRepL', depth=32, interval=3)
    twin = specs.e2e_twin(spec)
    assert twin.model['backbone'] == dict(type='CifarResNet', depth=32)
    assert specs.load_spec('resnet32-cifar', input_size=[8]).input_size == (8, 8)
    with pytest.raises(ValueError, match='neither a config file nor a preset'):
        specs.load_spec('no-such-model')
    with pytest.raises(ValueError, match='not a RepL backbone'):
        specs.e2e_twin(twin)


def test_load_spec_config_file_infers_size_scope_optimizer():
    spec = specs.load_spec('configs/resnet34_repl_imagenet.py')
    assert (spec.scope, spec.input_size, spec.optimizer) == ('mmpretrain', (224, 224), 'SGD')
