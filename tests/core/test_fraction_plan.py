"""fraction_plan (Tables III-IV "-25% layers"): valid plans, as close to the fraction as the
removal rules allow (checked against a brute-force search of every valid plan), spread over
the stages in proportion to their lengths."""
import itertools
from fractions import Fraction

import pytest

from repl_mm.core.plan import fraction_plan, removable_indices, validate_plan

SMALL = [([5, 5, 5], False), ([3, 4, 6, 3], False), ([3, 4, 6, 3], True), ([12], False),
         ([7], False), ([2, 2, 2, 2], False), ([3, 4, 8, 3], True), ([6, 9], False),
         ([4, 10], True), ([1, 3, 5], False)]
FRACTIONS = [0.0, 0.1, 0.2, 0.25, 1 / 3, 0.4, 0.5, 0.75, 0.99]


def _stage_options(n: int, bottleneck: bool):
    """Every valid removal set of one stage (no adjacent, rules of removable_indices)."""
    allowed = removable_indices(n, bottleneck)
    out = []
    for k in range(len(allowed) + 1):
        for combo in itertools.combinations(allowed, k):
            if all(b - a >= 2 for a, b in zip(combo, combo[1:])):
                out.append(list(combo))
    return out


def _all_plans(lengths, bottleneck):
    return itertools.product(*[_stage_options(n, bottleneck) for n in lengths])


@pytest.mark.parametrize('lengths,bottleneck', SMALL)
@pytest.mark.parametrize('fraction', FRACTIONS)
def test_plan_is_valid_and_nearest_to_fraction(lengths, bottleneck, fraction):
    plan = fraction_plan(lengths, fraction, bottleneck)
    assert validate_plan(plan, lengths) == plan
    if bottleneck:
        assert all(1 not in stage for stage in plan)
    total = sum(lengths)
    goal = Fraction(fraction).limit_denominator(10 ** 9)
    best = min(abs(Fraction(sum(map(len, p)), total) - goal)
               for p in _all_plans(lengths, bottleneck))
    got = abs(Fraction(sum(map(len, plan)), total) - goal)
    assert got == best, (plan, fraction)


@pytest.mark.parametrize('lengths,bottleneck', SMALL)
def test_spread_over_stages_in_proportion(lengths, bottleneck):
    plan = fraction_plan(lengths, 0.25, bottleneck)
    k, total = sum(map(len, plan)), sum(lengths)
    caps = [max(len(p) for p in _stage_options(n, bottleneck)) for n in lengths]
    for stage, n, cap in zip(plan, lengths, caps):
        share = Fraction(k * n, total)
        if len(stage) < cap:  # a stage that could take more is not below its share by >= 1
            assert len(stage) > share - 1, (plan, lengths)


def test_paper_backbones_at_25_percent():
    # ResNet-32: 15 blocks, 3.75 -> 4 (26.7%); the extra one goes to the later stage
    assert fraction_plan([5, 5, 5], 0.25) == [[2], [2], [1, 3]]
    # ResNet-110: 54 blocks, 13.5 -> 14 (a tie takes the larger count), 4/5/5 per stage
    plan = fraction_plan([18, 18, 18], 0.25)
    assert [len(s) for s in plan] == [4, 5, 5]
    # ViT-Tiny: 12 blocks -> 3, evenly placed
    assert fraction_plan([12], 0.25) == [[2, 5, 8]]
    # ResNet-34 (BasicBlock): 4 of 16, one per stage
    assert [len(s) for s in fraction_plan([3, 4, 6, 3], 0.25)] == [1, 1, 1, 1]
    # ResNet-50 (Bottleneck): index 1 unusable -> stages of 3 keep everything; 3 of 16 is the
    # most the rules allow (0.1875, nearest to 0.25 reachable)
    assert fraction_plan([3, 4, 6, 3], 0.25, True) == [[], [2], [2, 4], []]
    # ResNet-101: 33 blocks, 8.25 -> 8, all in the stages that can take them
    plan = fraction_plan([3, 4, 23, 3], 0.25, True)
    assert sum(map(len, plan)) == 8 and plan[0] == plan[3] == []


@pytest.mark.parametrize('fraction', [-0.1, 1.0, 1.5, '0.25', True, None])
def test_bad_fraction(fraction):
    with pytest.raises(ValueError, match=r'fraction must be a number in \[0, 1\)'):
        fraction_plan([5, 5, 5], fraction)


def test_bad_bottleneck_flags():
    with pytest.raises(ValueError, match='bottleneck must be a bool or one bool per stage'):
        fraction_plan([5, 5, 5], 0.25, [True, False])
    assert fraction_plan([4, 4], 0.25, [True, False]) == [[2], [1]]
