"""The cost model knows the Table VI "no weights" layer (no trainable coefficients), and the
plan predictor / benchmark refuse Adaptive-RepL, which has no fixed plan to compare."""
from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

from repl_mm.adapters import get_toolbox
from repl_mm.analysis import load_spec, predict_plan
from repl_mm.analysis.blocks import computing_layer_params


def build(**cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return get_toolbox('mmpretrain').registry.build(cfg)


@pytest.mark.parametrize('coefficients, per_site', [
    ('separate', 2 * 16 + 2 * 16),   # eq. 44: 2C coefficients + 2C BN affine (stage 1: C = 16)
    ('shared', 16 + 2 * 16),
    ('fixed', 2 * 16),               # alpha = beta = 1/2 fixed: only the BN affine
])
def test_computing_layer_params_per_coefficients(coefficients, per_site):
    e2e = build(type='CifarResNet', depth=32)
    repl = build(type='CifarResNetRepL', depth=32, coefficients=coefficients)
    assert computing_layer_params(e2e.layer1[3], repl) == (per_site, per_site)
    trainable = sum(p.numel() for p in repl.layer1[3].parameters() if p.requires_grad)
    assert trainable == per_site


def test_predict_plan_refuses_adaptive(tmp_path):
    cfg = tmp_path / 'adaptive.py'
    base = Path(__file__).resolve().parents[2] / 'configs' / 'cifar-resnet32_repl_cifar10.py'
    cfg.write_text(f"_base_ = '{base}'\nmodel = dict(backbone=dict(adaptive=True))\n")
    with pytest.raises(ValueError, match='adaptive=True: Adaptive-RepL keeps every block'):
        predict_plan(load_spec(str(cfg)), batch_size=2)
