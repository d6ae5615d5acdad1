"""Table IX (stochastic depth, checkpointing) and Table XV (Adaptive-RepL) configs: each builds
in the mmpretrain scope and differs from its paper config only in what it adds."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from repl_mm.testing.configs import build_model, config_diff

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
BB = 'model.backbone.'
SD = {BB + 'stochastic_depth.p_last': 0.5}

TABLE9 = {
    'cifar-resnet32_cifar10_sd': ('cifar-resnet32_cifar10', SD),
    'cifar-resnet32_repl_cifar10_sd': ('cifar-resnet32_repl_cifar10', SD),
    'cifar-resnet32_cifar10_cp': ('cifar-resnet32_cifar10', {BB + 'with_cp': True}),
    'cifar-resnet32_repl_cifar10_cp': ('cifar-resnet32_repl_cifar10', {BB + 'with_cp': True}),
    # the stock ResNet has no stochastic-depth option: ResNetRepL with interval=None is it
    'resnet101_imagenet_sd': ('resnet101_imagenet', dict(SD, **{BB + 'type': 'ResNetRepL',
                                                               BB + 'interval': None})),
    'resnet101_repl_imagenet_sd': ('resnet101_repl_imagenet', SD),
    'resnet101_imagenet_cp': ('resnet101_imagenet', {BB + 'with_cp': True}),
    'resnet101_repl_imagenet_cp': ('resnet101_repl_imagenet', {BB + 'with_cp': True}),
}
ADAPTIVE_KEYS = {BB + 'adaptive': True, 'find_unused_parameters': True,
                 'custom_hooks': [dict(type='AdaptiveRepLHook')],
                 'custom_imports.imports': ['repl_mm', 'repl_mm.datasets',
                                            'repl_mm.engine.hooks.adaptive_repl_hook']}
ADAPTIVE = {f'{stem}_adaptive': (stem, ADAPTIVE_KEYS)
            for stem in ('cifar-resnet32_repl_cifar10', 'vit-tiny-p8_repl_cifar10')}

def _load(rel: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, rel + '.py'))


def test_every_config_is_listed():
    for folder, table in (('table9', TABLE9), ('adaptive', ADAPTIVE)):
        names = {osp.basename(p)[:-3] for p in glob.glob(osp.join(CONFIGS, folder, '*.py'))}
        assert names == set(table), folder


CASES = [('table9', n) for n in sorted(TABLE9)] + [('adaptive', n) for n in sorted(ADAPTIVE)]


@pytest.mark.parametrize('folder,name', CASES, ids=[c[1] for c in CASES])
def test_differs_only_in_the_addition_and_builds(folder, name):
    parent, changes = (TABLE9 if folder == 'table9' else ADAPTIVE)[name]
    cfg = _load(f'{folder}/{name}')
    diff = config_diff(_load(parent), cfg)
    assert set(diff) == set(changes), diff
    for k, v in changes.items():
        before, after = diff[k]
        if k == 'custom_hooks':  # the parent's hooks stay, the mask hook is added
            v = before + v
        assert after == v, k
    bb = build_model(cfg.model).backbone
    if 'stochastic_depth.p_last' in ''.join(changes):
        from repl_mm.models.stochastic_depth import StochasticDepthBlock
        sd = [m for m in bb.modules() if isinstance(m, StochasticDepthBlock)]
        assert sd and min(m.sd_survival for m in sd) == pytest.approx(0.5)
    if BB + 'with_cp' in changes:
        assert all(m.with_cp for n in bb.res_layers for m in getattr(bb, n)
                   if hasattr(m, 'with_cp'))
    if folder == 'adaptive':
        assert bb.adaptive and bb.adaptive_mask == bb.removal_plan
        from mmengine.registry import HOOKS
        assert HOOKS.get('AdaptiveRepLHook') is not None
