"""The check that ``interval`` and ``replace_blocks`` are not both given (eq. 16).

A RepL backbone takes its removal plan either from the interval rule (``interval = K`` of
eq. 16) or from an explicit ``replace_blocks`` list, which is then used *instead of* the
interval. A config that sets both (``interval=2, replace_blocks=[[1], [1], [1], [1]]``) would
have ``interval`` silently ignored; :func:`check_plan_args` refuses that. ``interval`` left at
its default (or ``None``) with ``replace_blocks`` is the documented way to give an explicit
plan and passes.
"""
from typing import Any, Optional

__all__ = ['check_plan_args']


def check_plan_args(interval: Optional[int], replace_blocks: Optional[Any],
                    default_interval: Optional[int] = 4) -> None:
    """Refuses ``interval`` together with ``replace_blocks``.

    Args:
        interval (int | None): ``K`` of eq. 16 as given to the backbone.
        replace_blocks (list | None): the explicit plan (0-based block indices).
        default_interval (int | None): the backbone's default ``interval``; a value equal to
            it counts as "not given". Defaults to 4.

    Raises:
        ValueError: ``replace_blocks`` is given and ``interval`` is neither ``None`` nor
            ``default_interval``; the message names both arguments and the fix.
    """
    if replace_blocks is None or interval is None:
        return
    if isinstance(interval, bool) or interval != default_interval:
        raise ValueError(
            f'interval={interval!r} and replace_blocks={replace_blocks!r} were both given; '
            f'replace_blocks is used instead of the interval rule (eq. 16), so interval would '
            f'be ignored. Give only one: drop interval (or set interval=None) to use '
            f'replace_blocks, or drop replace_blocks to use interval={interval!r}.')
