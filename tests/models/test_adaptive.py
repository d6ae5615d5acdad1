"""Adaptive-RepL (paper §IV-D1h, eq. 34, Table XV): every internal block keeps its weights
and gets a computing layer; the mask replaces exactly |F| non-adjacent blocks, follows the
redundancy scores, and with the fixed plan's mask the model computes what fixed RepL does.
Parameter counts show why it costs more memory than fixed RepL (all blocks are kept)."""
import itertools

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from repl_mm.models.adaptive import AdaptiveRepLStage, redundancy_scores, select_blocks


def _build(cfg: dict) -> nn.Module:
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _brute(scores, count):
    items = [(s, i) for s, st in enumerate(scores) for i in st]
    best = None
    for combo in itertools.combinations(items, count):
        if any(a[0] == b[0] and abs(a[1] - b[1]) == 1 for a, b in
               itertools.combinations(combo, 2)):
            continue
        total = sum(scores[s][i] for s, i in combo)
        if best is None or total > best:
            best = total
    return best


@pytest.mark.parametrize('seed', range(6))
def test_select_blocks_is_feasible_top_f(seed):
    g = torch.Generator().manual_seed(seed)
    scores = [{i: torch.rand((), generator=g).item() for i in range(1, n - 1)}
              for n in (5, 7, 9)]
    for count in range(0, 9):
        mask = select_blocks(scores, count)
        assert sum(map(len, mask)) == count                                   # eq. 34
        assert all(b - a >= 2 for m in mask for a, b in zip(m, m[1:]))
        assert sum(scores[s][i] for s, m in enumerate(mask) for i in m) == \
            pytest.approx(_brute(scores, count))
    # when the plain top-|F| is feasible it is the answer
    scores = [{1: 0.9, 2: 0.1, 3: 0.8}, {1: 0.2, 2: 0.95, 3: 0.3}]
    assert select_blocks(scores, 3) == [[1, 3], [2]]
    with pytest.raises(ValueError, match='cannot select 3 non-adjacent blocks'):
        select_blocks([{1: 1.0, 2: 1.0, 3: 1.0}], 3)


def test_resnet32_adaptive_structure_and_parameters():
    e2e = _build(dict(type='CifarResNet', depth=32))
    fixed = _build(dict(type='CifarResNetRepL', depth=32, interval=4))
    ada = _build(dict(type='CifarResNetRepL', depth=32, interval=4, adaptive=True))
    assert ada.adaptive_count == 3                          # |F| of the K = 4 plan
    assert ada.adaptive_mask == [[3], [3], [3]]             # starts at the fixed plan
    assert ada.adaptive_sites() == [[1, 2, 3]] * 3
    stages = [getattr(ada, n) for n in ada.res_layers]
    assert all(isinstance(s, AdaptiveRepLStage) and len(s) == 5 for s in stages)
    # all 15 blocks kept + a computing layer (4C, eq. 44) per candidate
    per_site = [4 * c for c in (16, 32, 64)]
    assert _params(ada) == _params(e2e) + 3 * sum(per_site)
    # fixed RepL: 3 blocks of 2 * 9 C^2 + 4C (eq. 43) replaced by 4C
    removed = sum(2 * 9 * c * c for c in (16, 32, 64))
    assert _params(fixed) == _params(e2e) - removed
    assert _params(ada) - _params(fixed) == removed + 3 * sum(per_site)
    # stock block keys stay; computing layers under <stage>.computing.<index>
    keys = set(ada.state_dict())
    assert set(e2e.state_dict()) <= keys
    assert 'layer2.computing.2.synthesis.alpha' in keys


def _copy_to_fixed(ada: nn.Module, fixed: nn.Module) -> None:
    src = ada.state_dict()
    mapped = {}
    for k in fixed.state_dict():
        parts = k.split('.')
        ada_key = '.'.join([parts[0], 'computing'] + parts[1:])
        mapped[k] = src[ada_key] if ada_key in src else src[k]
    fixed.load_state_dict(mapped, strict=True)


@pytest.mark.parametrize('mask', [[[3], [3], [3]], [[1, 3], [2], []]])
def test_adaptive_equals_fixed_repl_at_the_same_plan(mask):
    torch.manual_seed(0)
    ada = _build(dict(type='CifarResNetRepL', depth=32, replace_blocks=[[1], [2], [3]],
                      adaptive=True))
    ada.set_adaptive_mask(mask)
    fixed = _build(dict(type='CifarResNetRepL', depth=32, replace_blocks=mask))
    _copy_to_fixed(ada, fixed)
    x = torch.randn(2, 3, 16, 16)
    ada.eval(), fixed.eval()
    with torch.no_grad():
        torch.testing.assert_close(ada(x), fixed(x))


def test_mask_follows_scores_and_replaced_blocks_get_no_gradient():
    torch.manual_seed(0)
    ada = _build(dict(type='CifarResNetRepL', depth=32, interval=4, adaptive=True))
    x = torch.randn(4, 3, 16, 16)
    scores = redundancy_scores(ada, x)
    assert [sorted(s) for s in scores] == [[1, 2, 3]] * 3
    assert all(-1 <= v <= 1 for s in scores for v in s.values())
    assert ada.adaptive_mask == [[3], [3], [3]] and ada.training  # restored
    # make block 1 of stage 2 an identity (zero last BN): its output is its input, cos = 1
    blk = ada.layer2[1]
    with torch.no_grad():
        blk.norm2.weight.zero_()
        blk.norm2.bias.zero_()
    scores = redundancy_scores(ada, x)
    assert scores[1][1] == pytest.approx(1.0, abs=1e-5)
    first = ada.adaptive_select(scores)
    assert 1 in first[1] and sum(map(len, first)) == 3
    # other scores -> other mask
    flipped = [{i: -v for i, v in s.items()} for s in scores]
    second = ada.adaptive_select(flipped)
    assert second != first and sum(map(len, second)) == 3
    assert ada.adaptive_mask == second
    # a replaced block is not run: its weights get no gradient, its computing layer's do
    ada.train()
    ada.set_adaptive_mask([[2], [1], [3]])
    ada(x)[0].sum().backward()
    assert ada.layer2[1].conv1.weight.grad is None
    assert ada.layer2.computing['1'].synthesis.alpha.grad is not None
    assert ada.layer2.computing['2'].synthesis.alpha.grad is None
    assert ada.layer2[2].conv1.weight.grad is not None


def test_bad_masks():
    ada = _build(dict(type='CifarResNetRepL', depth=32, interval=4, adaptive=True))
    with pytest.raises(ValueError, match='adjacent'):
        ada.set_adaptive_mask([[1, 2], [], []])
    with pytest.raises(ValueError, match='no computing layer'):
        ada.set_adaptive_mask([[4], [], []])
    with pytest.raises(ValueError, match='one list per stage'):
        ada.set_adaptive_mask([[1]])


def test_bottleneck_candidates_skip_block_1():
    ada = _build(dict(type='ResNetRepL', depth=50, stem_channels=8, base_channels=8,
                      interval=4, adaptive=True, init_cfg=None))
    assert ada.adaptive_sites() == [[], [2], [2, 3, 4], []]
    assert ada.adaptive_mask == [[], [], [3], []]


def test_vit_adaptive():
    cfg = dict(img_size=32, patch_size=8,
               arch=dict(embed_dims=48, num_layers=12, num_heads=4, feedforward_channels=96))
    torch.manual_seed(0)
    e2e = _build(dict(cfg, type='VisionTransformer'))
    ada = _build(dict(cfg, type='VisionTransformerRepL', interval=4, adaptive=True))
    assert ada.adaptive_sites() == [list(range(1, 11))] and ada.adaptive_mask == [[3, 7]]
    assert len(ada.layers) == 12
    # 12 blocks kept, 10 computing layers with 2 scalar coefficients each (eq. 50)
    assert _params(ada) == _params(e2e) + 10 * 2
    x = torch.randn(2, 3, 32, 32)
    scores = redundancy_scores(ada, x)
    mask = ada.adaptive_select(scores)
    assert sum(map(len, mask)) == 2
    ada.eval()
    with torch.no_grad():
        out = ada(x)
    assert out[0].shape == (2, 48)
