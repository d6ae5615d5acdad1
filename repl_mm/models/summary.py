"""The one log line every RepL backbone writes when it is built (rank 0, mmengine logger)."""
from typing import Sequence

from mmengine.logging import print_log
from torch import nn

from ..core.options import RepLOptions

__all__ = ['trainable_params', 'describe_removal', 'log_removal']


def trainable_params(module: nn.Module) -> int:
    """Number of trainable (``requires_grad``) parameters of ``module`` (eq. 42's ``P``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _millions(n: int) -> str:
    return f'{n / 1e6:.2f}M' if n >= 1e5 else f'{n:,}'


def describe_removal(name: str, options: RepLOptions, removed: Sequence[str],
                     num_blocks: int, params_before: int, params_after: int) -> str:
    """``ResNetRepL: K=4, removed layer3.3, layer3.7 (2 of 33 blocks), 42.50M -> 36.93M
    trainable params``.

    Args:
        name (str): the backbone class name.
        options (RepLOptions): the backbone's RepL options.
        removed (Sequence[str]): the module names of the removed blocks.
        num_blocks (int): blocks of the stock backbone.
        params_before (int): trainable parameters of the stock backbone (E2E).
        params_after (int): trainable parameters of the RepL backbone.
    """
    how = (f'K={options.interval}' if options.replace_blocks is None
           else f'replace_blocks={list(options.replace_blocks)}')
    if not removed:
        return f'{name}: {how}, nothing removed: the stock backbone'
    what = 'removed (no computing layers: remove_only)' if options.remove_only else 'removed'
    extras = []
    if options.neighbours != 'both':
        extras.append(f'neighbours={options.neighbours!r}')
    if options.coefficients != 'separate':
        extras.append(f'coefficients={options.coefficients!r}')
    if not options.stop_grad:
        extras.append('stop_grad=False')
    if options.deploy:
        extras.append('deploy form')
    extra = f' [{", ".join(extras)}]' if extras else ''
    return (f'{name}: {how}, {what} {", ".join(removed)} ({len(removed)} of {num_blocks} '
            f'blocks){extra}, {_millions(params_before)} -> {_millions(params_after)} '
            'trainable params')


def log_removal(*args, **kwargs) -> str:
    """Logs :func:`describe_removal` through mmengine's current logger (rank 0 only, as
    mmengine's logger does on other ranks below ERROR) and returns the line."""
    line = describe_removal(*args, **kwargs)
    print_log(line, logger='current')
    return line
