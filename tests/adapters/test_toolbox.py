"""One descriptor per toolbox (repl_mm.adapters.toolbox) and statically declared adapter
classes."""
import inspect

import pytest
import torch

from repl_mm.adapters import AVAILABLE, get_toolbox


def test_descriptors():
    import mmdet.registry
    import mmpretrain.registry
    import mmseg.registry
    assert get_toolbox('mmdet').registry is mmdet.registry.MODELS
    assert get_toolbox('mmseg').registry is mmseg.registry.MODELS
    assert get_toolbox('mmpretrain').registry is mmpretrain.registry.MODELS
    assert {s: get_toolbox(s).visualization_hook for s in AVAILABLE} == {
        'mmdet': 'DetVisualizationHook', 'mmseg': 'SegVisualizationHook',
        'mmpretrain': 'VisualizationHook'}


def test_unknown_scope_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"one of \('mmdet', 'mmseg', 'mmpretrain'\), "
                                         r"got 'mmocr'"):
        get_toolbox('mmocr')


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_adapter_classes_are_declared_statically(scope):
    import importlib
    module = importlib.import_module(f'repl_mm.adapters.{scope}')
    src = inspect.getsource(module)
    for name in ('ResNetRepL', 'ResNetV1cRepL', 'ResNetV1dRepL'):
        cls = getattr(module, name)
        assert cls.__module__ == module.__name__ and cls.__qualname__ == name
        assert f'@MODELS.register_module()\nclass {name}(' in src
        assert get_toolbox(scope).registry.get(name) is cls
        assert 'interval (int | None)' in cls.__doc__


def test_make_batch_per_toolbox():
    from mmengine.registry import DefaultScope
    cls_model = dict(type='ImageClassifier',
                     backbone=dict(type='CifarResNetRepL', depth=20),
                     neck=dict(type='GlobalAveragePooling'),
                     head=dict(type='LinearClsHead', num_classes=7, in_channels=64,
                               loss=dict(type='CrossEntropyLoss')))
    tb = get_toolbox('mmpretrain')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = tb.registry.build(cls_model)
    x, samples = tb.make_batch(model, 3, (32, 32), seed=1)
    assert x.shape == (3, 3, 32, 32) and len(samples) == 3
    assert all(0 <= int(s.gt_label) < 7 for s in samples)
    x2, _ = tb.make_batch(model, 3, (32, 32), seed=1)
    assert torch.equal(x, x2)
    loss = model.loss(x, samples)['loss']
    assert torch.isfinite(loss)


def test_import_refuses_mmcv_22_with_mmdet(monkeypatch):
    from repl_mm.adapters import toolbox
    from repl_mm.utils import envcheck
    fake = dict(envcheck.installed_versions(), mmcv='2.2.0', mmdet='3.3.0')
    monkeypatch.setattr(envcheck, 'installed_versions', lambda *a, **k: fake)
    monkeypatch.setattr(toolbox, 'AVAILABLE', [])
    with pytest.raises(envcheck.IncompatibleVersionsError,
                       match=r'mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0 but mmcv 2.2.0'):
        toolbox.import_adapters()
