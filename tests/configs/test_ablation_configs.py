"""The ablation configs (Tables III-VII, XVI, head-wise ViT synthesis) under
configs/ablations/: each builds in the mmpretrain scope and differs from the paper config it
inherits ONLY in what it ablates (both loaded with mmengine, compared key by key)."""
import copy
import functools
import glob
import os.path as osp
from typing import Dict

import pytest
from mmengine.config import Config

from repl_mm.analysis.fraction import stage_layout
from repl_mm.core.plan import fraction_plan
from repl_mm.testing.configs import build_model, config_diff

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')

P25 = {'cifar-resnet32_repl_cifar10': [[2], [2], [1, 3]],
       'cifar-resnet110_repl_cifar10': [[3, 7, 10, 14], [2, 5, 8, 11, 14], [2, 5, 8, 11, 14]],
       'vit-tiny-p8_repl_cifar10': [2, 5, 8],
       'resnet34_repl_imagenet': [[1], [1], [2], [1]],
       'vit-tiny-p16_repl_imagenet': [2, 5, 8]}
SMALL = ('cifar-resnet32_repl_cifar10', 'cifar-resnet110_repl_cifar10',
         'vit-tiny-p8_repl_cifar10')


def _expected() -> Dict[str, tuple]:
    """ablation config -> (parent config, {changed key: new value})."""
    bb = 'model.backbone.'
    out = {}
    for stem, plan in P25.items():
        out[f'{stem}_remove-only'] = (stem, {bb + 'remove_only': True})          # III / IV
        out[f'{stem}_p25'] = (stem, {bb + 'replace_blocks': plan})
        out[f'{stem}_p25_remove-only'] = (f'ablations/{stem}_p25', {bb + 'remove_only': True})
    for stem in SMALL:
        out[f'{stem}_k2'] = (stem, {bb + 'interval': 2})                          # V
        if stem != 'cifar-resnet32_repl_cifar10':  # r = 6 >= L_s = 5: nothing removed
            out[f'{stem}_k6'] = (stem, {bb + 'interval': 6})
        out[f'{stem}_no-weights'] = (stem, {bb + 'neighbours': 'none'})           # VI
        out[f'{stem}_fixed-coefficients'] = (stem, {bb + 'coefficients': 'fixed'})  # ours
        out[f'{stem}_neighbours-prev'] = (stem, {bb + 'neighbours': 'prev'})      # VII
        out[f'{stem}_neighbours-next'] = (stem, {bb + 'neighbours': 'next'})
        out[f'{stem}_shared-coef'] = (stem, {bb + 'coefficients': 'shared'})      # XVI
    out['vit-tiny-p8_repl_cifar10_attn-only'] = (
        'vit-tiny-p8_repl_cifar10', {bb + 'synthesis_branches': ('attn', )})
    out['vit-tiny-p8_repl_cifar10_mlp-only'] = (
        'vit-tiny-p8_repl_cifar10', {bb + 'synthesis_branches': ('mlp', )})
    for stem in ('vit-small-p16_repl_imagenet', 'vit-base-p16_repl_imagenet'):
        out[f'{stem}_head-wise'] = (stem, {bb + 'head_wise': True})               # eq. 22-24
    return out


EXPECTED = _expected()


@functools.lru_cache(maxsize=None)
def _load_cached(rel: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, rel + '.py'))

def _load(rel: str) -> Config:
    """A config (parsed once per session: mmengine's parsing of ``mmpretrain::`` bases is
    slow), as a copy the test may change."""
    return copy.deepcopy(_load_cached(rel))


def test_every_ablation_config_is_listed():
    names = {osp.basename(p)[:-3] for p in glob.glob(osp.join(CONFIGS, 'ablations', '*.py'))}
    assert names == set(EXPECTED)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_differs_from_parent_only_in_the_ablation_and_builds(name):
    parent, changes = EXPECTED[name]
    cfg = _load('ablations/' + name)
    diff = config_diff(_load(parent), cfg)
    assert set(diff) == set(changes), (name, diff)
    for key, value in changes.items():
        assert diff[key][1] == (list(value) if isinstance(value, tuple) else value), key

    bb_cfg = cfg.model.backbone
    model = build_model(cfg.model)
    bb = model.backbone
    assert type(bb).__name__ == bb_cfg.type
    for key, value in EXPECTED[name][1].items():
        attr = key.split('.')[-1]
        if attr == 'synthesis_branches':
            assert bb.synthesis_branches == tuple(value)
        else:
            assert getattr(bb, attr) == value
    plan = bb.removal_plan
    if 'p25' in name:
        assert plan == (P25[name.split('_p25')[0]] if isinstance(P25[name.split('_p25')[0]][0],
                                                                 list)
                        else [P25[name.split('_p25')[0]]])
    layers = [m for m in bb.modules() if type(m).__name__.endswith('ComputingLayer')]
    removed = sum(len(p) for p in plan)
    assert removed > 0
    assert len(layers) == (0 if bb.remove_only else removed)
    if 'fixed-coefficients' in name:
        assert all(not list(m.synthesis.parameters()) for m in layers)
    if 'no-weights' in name:   # Table VI: an own operator, no synthesis, no neighbour read
        assert all(not hasattr(m, 'synthesis') and len(m.operator) > 0
                   and m.weight_sources() == {} for m in layers)


@pytest.mark.parametrize('stem', sorted(P25))
def test_p25_plan_is_the_plan_tool_output(stem):
    """The configs carry fraction_plan(0.25) of their backbone (what tools/plan.py prints)."""
    cfg = _load(stem)
    cfg.model.backbone.interval = None
    bb = build_model(cfg.model).backbone
    lengths, bottleneck, flat = stage_layout(bb)
    plan = fraction_plan(lengths, 0.25, bottleneck)
    assert (plan[0] if flat else plan) == P25[stem]


@pytest.mark.parametrize('config', ['resnet101_repl_imagenet', 'resnet34_repl_imagenet'])
def test_k2_on_resnets_from_imagenet(config):
    """Table V's K = 2 is refused on Bottleneck ResNets: block 1 (r = 2) has the
    stage-transition block as its left neighbour, whose conv1 reads another width (eq. 13);
    on BasicBlock ResNets (ResNet-34) it is valid."""
    cfg = _load(config)
    cfg.model.backbone.interval = 2
    if config.startswith('resnet101'):
        with pytest.raises(ValueError, match=r'interval removes block 1 .*conv1 has shape'):
            build_model(cfg.model)
    else:
        assert build_model(cfg.model).backbone.removal_plan == [[1], [1], [1, 3], [1]]
