"""The removal plan: which blocks of each stage RepL removes (paper §III-A, §III-B3).

Within a stage of ``L_s`` blocks the removed set is (eq. 2 and eq. 16)

    R_s = { r | r = mK, 1 <= r < L_s, m = 1, 2, ... }     (1-based block numbers)

so the last block of a stage is always kept (a computing layer needs a left and a right
neighbour) and, because ``K >= 2``, so is the first (the stage-transition block). Nothing is
ever removed across a stage boundary. This module returns 0-based indices, ``r - 1``.
"""
from fractions import Fraction
from typing import List, Optional, Sequence, Union

__all__ = ['interval_plan', 'validate_plan', 'removal_plan', 'removable_indices',
           'fraction_plan']


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


def removable_indices(num_blocks: int, bottleneck: bool = False) -> List[int]:
    """The 0-based blocks of one stage that a plan may remove.

    ``1 .. L_s - 2`` (the first and last block stay, eq. 16-17); for a Bottleneck stage
    also not block 1: its computing layer reads ``W_red = W_{r-1,1}`` (eq. 13) from block 0,
    the stage-transition block, whose ``conv1`` has another input width than the removed
    block's (``RepLResNetMixin._computing_layer`` refuses it).

    Args:
        num_blocks (int): ``L_s``.
        bottleneck (bool): the stage is made of Bottleneck blocks.
    """
    return list(range(2 if bottleneck else 1, num_blocks - 1))


def _max_removable(num_blocks: int, bottleneck: bool) -> int:
    """No two removed blocks adjacent: at most ``ceil(m / 2)`` of ``m`` consecutive slots."""
    return (len(removable_indices(num_blocks, bottleneck)) + 1) // 2


def _spread(allowed: List[int], count: int) -> List[int]:
    """``count`` indices of the consecutive ``allowed`` slots, pairwise non-adjacent, closest
    (least total distance, exact arithmetic) to ``count`` evenly spaced targets centred in the
    allowed span: ``t_j = lo + (hi - lo) (j + 1/2) / count``."""
    if count == 0:
        return []
    lo, hi = allowed[0], allowed[-1]
    targets = [lo + Fraction(hi - lo) * Fraction(2 * j + 1, 2 * count) for j in range(count)]
    n = len(allowed)
    inf = None
    # best[i][j]: least cost placing targets j.. on slots i..; a taken slot skips its neighbour
    best = [[inf] * (count + 1) for _ in range(n + 2)]
    for i in range(n + 2):
        best[i][count] = Fraction(0)
    for i in range(n - 1, -1, -1):
        for j in range(count - 1, -1, -1):
            skip = best[i + 1][j]
            after = best[min(i + 2, n)][j + 1] if i + 2 <= n else best[n][j + 1]
            take = None if after is None else abs(allowed[i] - targets[j]) + after
            best[i][j] = take if skip is None or (take is not None and take <= skip) else skip
    chosen, i = [], 0
    for j in range(count):
        while True:
            after = best[min(i + 2, n)][j + 1]
            take = None if after is None else abs(allowed[i] - targets[j]) + after
            if take is not None and take == best[i][j]:
                chosen.append(allowed[i])
                i += 2
                break
            i += 1
    return chosen


def fraction_plan(num_blocks: Sequence[int], fraction: float,
                  bottleneck: Union[bool, Sequence[bool]] = False) -> List[List[int]]:
    """A valid ``replace_blocks`` plan removing as close to ``fraction`` of all blocks as the
    removal rules allow (Tables III-IV, "-25% layers"; the interval rule of eq. 16 cannot
    express such a fraction, e.g. ``K = 4`` removes 3 of ResNet-32's 15 blocks).

    The rules (:func:`validate_plan`, :func:`removable_indices`): a stage's first and last
    block stay, no two removed blocks are adjacent, a Bottleneck stage keeps block 1. Within
    them:

    1. the total ``k`` is the allowed count nearest to ``fraction * N`` (``N = sum L_s``);
       a tie (``fraction * N`` exactly halfway) takes the larger count, so the plan removes
       at least the fraction; it is capped at the most the rules allow;
    2. ``k`` is spread over the stages in proportion to their lengths: one block at a time
       goes to the stage furthest below its share ``k L_s / N`` that can still take one
       (ties: the later, wider stage);
    3. inside a stage the blocks sit as evenly as possible (:func:`_spread`).

    Args:
        num_blocks (Sequence[int]): ``L_s`` per stage (``[12]`` for a ViT).
        fraction (float): the fraction of all blocks to remove, ``0 <= fraction < 1``.
        bottleneck (bool | Sequence[bool]): whether the stages are Bottleneck stages (one
            flag for all, or one per stage).

    Returns:
        list[list[int]]: sorted 0-based indices per stage, valid for :func:`validate_plan`.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or not 0 <= fraction < 1:
        raise ValueError(f'fraction must be a number in [0, 1), got {fraction!r}')
    lengths = list(num_blocks)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in lengths):
        raise ValueError(f'num_blocks must be positive ints, got {num_blocks!r}')
    flags = [bottleneck] * len(lengths) if isinstance(bottleneck, bool) else list(bottleneck)
    if len(flags) != len(lengths) or any(not isinstance(b, bool) for b in flags):
        raise ValueError(f'bottleneck must be a bool or one bool per stage '
                         f'({len(lengths)} stages), got {bottleneck!r}')
    total = sum(lengths)
    caps = [_max_removable(n, b) for n, b in zip(lengths, flags)]
    goal = Fraction(fraction).limit_denominator(10 ** 9) * total
    k = min(int(goal + Fraction(1, 2)), sum(caps))           # nearest, ties up
    counts = [0] * len(lengths)
    for _ in range(k):
        open_stages = [s for s in range(len(lengths)) if counts[s] < caps[s]]
        s = max(open_stages, key=lambda s: (Fraction(k * lengths[s], total) - counts[s], s))
        counts[s] += 1
    plan = [_spread(removable_indices(n, b), c) for n, b, c in zip(lengths, flags, counts)]
    return validate_plan(plan, lengths, 'fraction_plan')
