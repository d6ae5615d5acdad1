"""The removal plan: which blocks of each stage RepL removes (paper §III-A, §III-B3).

Within a stage of ``L_s`` blocks the removed set is (eq. 2 and eq. 16)

    R_s = { r | r = mK, 1 <= r < L_s, m = 1, 2, ... }     (1-based block numbers)

so the last block of a stage is always kept (a computing layer needs a left and a right
neighbour) and, because ``K >= 2``, so is the first (the stage-transition block). Nothing is
ever removed across a stage boundary. This module returns 0-based indices, ``r - 1``.
"""
from typing import List, Optional, Sequence

__all__ = ['interval_plan', 'validate_plan', 'removal_plan']


def interval_plan(num_blocks: Sequence[int], interval: int) -> List[List[int]]:
    """0-based indices removed by the interval rule of eq. 16, one list per stage.

    Args:
        num_blocks (Sequence[int]): ``L_s``, the number of blocks in each stage.
        interval (int): the replacement interval ``K`` (>= 2).

    Returns:
        list[list[int]]: for each stage the sorted 0-based indices ``mK - 1`` with
        ``1 <= mK < L_s``.
    """
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 2:
        raise ValueError(
            f'interval must be an int >= 2 (K of eq. 16; 1 would remove the first block '
            f'of every stage) or None to remove nothing, got {interval!r}')
    return [[r - 1 for r in range(interval, n, interval)] for n in num_blocks]


def validate_plan(plan: Sequence[Sequence[int]], num_blocks: Sequence[int],
                  arg_name: str = 'replace_blocks') -> List[List[int]]:
    """Checks an explicit per-stage plan and returns it as sorted lists.

    Every index must be an int in ``[1, L_s - 2]`` (the first and last block of a stage stay)
    and no two removed blocks may be adjacent (both neighbours of a computing layer must be
    retained blocks, eq. 17).

    Raises:
        ValueError: naming ``arg_name`` and the allowed values.
    """
    if isinstance(plan, (str, bytes)) or not isinstance(plan, Sequence) \
            or len(plan) != len(num_blocks):
        raise ValueError(
            f'{arg_name} must be a list with one list of 0-based block indices per stage '
            f'({len(num_blocks)} stages with {list(num_blocks)} blocks), got {plan!r}')
    result = []
    for s, (stage, n) in enumerate(zip(plan, num_blocks)):
        if isinstance(stage, (str, bytes)) or not isinstance(stage, Sequence):
            raise ValueError(f'{arg_name}[{s}] must be a list of ints, got {stage!r}')
        idx = sorted(stage)
        for i in idx:
            if isinstance(i, bool) or not isinstance(i, int):
                raise ValueError(f'{arg_name}[{s}] must hold ints, got {i!r}')
            if not 1 <= i <= n - 2:
                allowed = f'1..{n - 2}' if n >= 3 else 'none (a stage needs >= 3 blocks)'
                raise ValueError(
                    f'{arg_name}[{s}] holds block {i}, but stage {s} has {n} blocks: the first '
                    f'(0) and the last ({n - 1}) always stay, allowed indices are {allowed}')
        if len(set(idx)) != len(idx):
            raise ValueError(f'{arg_name}[{s}] repeats an index: {list(stage)}')
        for a, b in zip(idx, idx[1:]):
            if b == a + 1:
                raise ValueError(
                    f'{arg_name}[{s}] removes adjacent blocks {a} and {b}: each computing layer '
                    f'needs both neighbours retained')
        result.append(idx)
    return result


def removal_plan(num_blocks: Sequence[int], interval: Optional[int] = 4,
                 replace_blocks: Optional[Sequence[Sequence[int]]] = None) -> List[List[int]]:
    """The per-stage 0-based indices of the blocks to remove.

    Args:
        num_blocks (Sequence[int]): number of blocks in each stage.
        interval (int | None): ``K`` of eq. 16; ``None`` removes nothing.
        replace_blocks (Sequence[Sequence[int]] | None): an explicit plan used instead of the
            interval rule.

    Returns:
        list[list[int]]: one sorted list per stage.
    """
    if replace_blocks is not None:
        return validate_plan(replace_blocks, num_blocks)
    if interval is None:
        return [[] for _ in num_blocks]
    return validate_plan(interval_plan(num_blocks, interval), num_blocks, 'interval')
