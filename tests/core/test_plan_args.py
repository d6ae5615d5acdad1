"""check_plan_args: interval together with replace_blocks is refused unless interval is left at
its default or None (eq. 16: replace_blocks is used instead of the interval rule)."""
import pytest

from repl_mm.core.plan_args import check_plan_args


@pytest.mark.parametrize('interval, replace_blocks', [
    (4, None), (2, None), (None, None), (4, [[1], [], [3], []]), (None, [3, 7]),
])
def test_accepted(interval, replace_blocks):
    check_plan_args(interval, replace_blocks)


@pytest.mark.parametrize('interval', [2, 3, 8, True])
def test_interval_with_replace_blocks_refused(interval):
    with pytest.raises(ValueError) as err:
        check_plan_args(interval, [[1], [1], [1], [1]])
    msg = str(err.value)
    assert f'interval={interval!r}' in msg and 'replace_blocks=[[1], [1], [1], [1]]' in msg
    assert 'interval=None' in msg


def test_other_default():
    check_plan_args(6, [3], default_interval=6)
    with pytest.raises(ValueError, match='interval=4'):
        check_plan_args(4, [3], default_interval=6)
