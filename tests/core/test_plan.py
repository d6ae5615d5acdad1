import pytest

from repl_mm.core.plan import interval_plan, removal_plan, validate_plan

# (blocks per stage, K) -> 0-based removed indices, from eq. 16: r = mK, 1 <= r < L_s (1-based)
CASES = {
    'resnet18': ([2, 2, 2, 2], [[], [], [], []]),
    'resnet34': ([3, 4, 6, 3], [[], [], [3], []]),
    'resnet50': ([3, 4, 6, 3], [[], [], [3], []]),
    'resnet101': ([3, 4, 23, 3], [[], [], [3, 7, 11, 15, 19], []]),
    'resnet152': ([3, 8, 36, 3], [[], [3], [3, 7, 11, 15, 19, 23, 27, 31], []]),
    'cifar32': ([5, 5, 5], [[3], [3], [3]]),
    'cifar110': ([18, 18, 18], [[3, 7, 11, 15]] * 3),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_interval_plan_k4(name):
    blocks, expected = CASES[name]
    assert removal_plan(blocks, 4) == expected


def test_resnet101_removes_5_of_33():
    plan = removal_plan([3, 4, 23, 3], 4)
    assert sum(map(len, plan)) == 5 and sum([3, 4, 23, 3]) == 33


def test_other_intervals_and_last_block_kept():
    assert interval_plan([8], 2) == [[1, 3, 5]]   # r = 2, 4, 6 (r = 8 = L_s is kept)
    assert interval_plan([9], 4) == [[3, 7]]      # r = 4, 8 < 9
    assert interval_plan([8], 4) == [[3]]         # r = 8 is the last block: kept
    assert interval_plan([18], 6) == [[5, 11]]


def test_none_removes_nothing():
    assert removal_plan([3, 4, 23, 3], None) == [[], [], [], []]


def test_explicit_plan_used_instead_of_interval():
    assert removal_plan([3, 4, 6, 3], 4, [[1], [2], [1, 3], []]) == [[1], [2], [1, 3], []]


@pytest.mark.parametrize('interval', [1, 0, -4, 2.0, '4', True])
def test_bad_interval(interval):
    with pytest.raises(ValueError, match='interval must be an int >= 2'):
        removal_plan([3, 4, 6, 3], interval)


@pytest.mark.parametrize('plan,match', [
    ([[0], [], [], []], r'first \(0\) and the last \(2\) always stay, allowed indices are 1..1'),
    ([[], [], [5], []], r'stage 2 has 6 blocks.*allowed indices are 1..4'),
    ([[], [], [9], []], 'allowed indices are 1..4'),
    ([[], [], [1, 2], []], 'adjacent blocks 1 and 2'),
    ([[], [], [2, 2], []], 'repeats an index'),
    ([[], [], []], 'one list of 0-based block indices per stage'),
    ('abc', 'one list of 0-based block indices per stage'),
    ([[], [], [1.0], []], 'must hold ints'),
])
def test_bad_replace_blocks(plan, match):
    with pytest.raises(ValueError, match=match) as e:
        validate_plan(plan, [3, 4, 6, 3])
    assert 'replace_blocks' in str(e.value)
