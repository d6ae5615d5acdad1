"""repl_mm.testing.configs: config differences (keys, MISSING vs None, tuple == list) and
building a config's model on the meta device or, where the model needs values, the CPU."""
from mmengine.config import Config

from repl_mm.testing.configs import MISSING, build_model, config_diff, flatten_config


def test_flatten_and_diff():
    parent = Config(dict(model=dict(backbone=dict(type='CifarResNet', depth=32, out=(3, )),
                                    neck=None), lr=0.1, steps=[1, 2]))
    child = Config(dict(model=dict(backbone=dict(type='CifarResNetRepL', depth=32, out=[3],
                                                 interval=4)), lr=0.1, steps=[1, 2]))
    assert flatten_config(parent)['model.backbone.out'] == [3]
    assert config_diff(parent, child) == {
        'model.backbone.type': ('CifarResNet', 'CifarResNetRepL'),
        'model.backbone.interval': (MISSING, 4),
        'model.neck': (None, MISSING)}           # absent differs from None
    assert config_diff(child, child) == {}
    assert repr(MISSING) == 'MISSING'


def test_build_model_meta_and_cpu():
    vit = dict(type='ImageClassifier',
               backbone=dict(type='VisionTransformerRepL', arch='deit-tiny', img_size=32,
                             patch_size=8, interval=4),
               head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=192))
    meta = build_model(vit)
    assert {p.device.type for p in meta.parameters()} == {'meta'}     # shapes only
    cpu = build_model(vit, meta=False)
    assert {p.device.type for p in cpu.parameters()} == {'cpu'}
    # deit-tiny/8 at 32 px: 12 layers of 12 d^2 + 13 d, K = 4 removes 2 (eq. 50), the same
    # count on either device
    n = sum(p.numel() for p in cpu.parameters())
    assert n == sum(p.numel() for p in meta.parameters())
    d = 192
    stock = {k: v for k, v in vit['backbone'].items() if k != 'interval'}
    e2e = build_model(dict(vit, backbone=dict(stock, type='VisionTransformer')))
    assert sum(p.numel() for p in e2e.parameters()) - n == 2 * (12 * d * d + 13 * d) - \
        sum(p.numel() for m in cpu.modules() if type(m).__name__ == 'ViTComputingLayer'
            for p in m.parameters())
