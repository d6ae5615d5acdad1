"""Checks of what a user hands a tool, before anything heavy starts (issue 23, item 8).

Every user-facing tool (plan, benchmark, converters, export, quantize, test) answers bad input
with ONE line that names the argument, the thing and the fix -- no traceback, nothing written,
no input overwritten:

* :func:`check_config_file`: the config exists and is a config (``.py``, ``.json``, ``.yaml``,
  ``.yml``), not e.g. an image or a checkpoint;
* :func:`check_input_file`: an input file (a checkpoint) exists and is a file;
* :func:`one_line` / :func:`cli_errors`: how a tool prints an error: ``error: <one line>`` on
  stderr and exit status 2; :func:`run_cli`: a tool's ``main`` (parse, then the body inside
  :func:`cli_errors`);
* :func:`add_model_args`: the leading arguments of the tools that measure or predict a RepL
  config against its E2E twin (plan, benchmark).

The checkpoint side (a text file given as a checkpoint, a checkpoint of another architecture,
an output that is the input through a symlink) is in :mod:`repl_mm.deploy`
(``load_checkpoint_file``, ``check_output_path``) and :mod:`repl_mm.engine.fileio.safe_load`.
"""
import argparse
import os.path as osp
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence

__all__ = ['CONFIG_SUFFIXES', 'check_config_file', 'check_input_file',
           'check_checkpoint_header', 'one_line', 'cli_errors', 'USER_ERRORS', 'run_cli',
           'add_model_args']

#: the config formats mmengine's ``Config.fromfile`` reads
CONFIG_SUFFIXES = ('.py', '.json', '.yaml', '.yml')


def check_config_file(path: str, arg: str = 'config') -> None:
    """Refuses a config path that does not exist, is a folder or is not a config file.

    Raises:
        FileNotFoundError: no such file (named, with ``arg``).
        ValueError: a folder, or another kind of file (e.g. an image, a checkpoint).
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f'{arg} must be the path of a config file ({", ".join(CONFIG_SUFFIXES)}'
                         f'), got {path!r}')
    if not osp.exists(path):
        raise FileNotFoundError(f'{arg} {path!r} does not exist: pass the path of a config '
                                'file, e.g. configs/resnet34_repl_imagenet.py')
    if osp.isdir(path):
        raise ValueError(f'{arg} {path!r} is a folder: pass a config file in it '
                         f'({", ".join(CONFIG_SUFFIXES)})')
    if not path.lower().endswith(CONFIG_SUFFIXES):
        raise ValueError(f'{arg} {path!r} is not a config file (it must end with '
                         f'{", ".join(CONFIG_SUFFIXES)}): pass the mm config the model was '
                         'built with, e.g. configs/resnet34_repl_imagenet.py')


def check_input_file(path: str, arg: str = 'checkpoint') -> None:
    """Refuses an input path that does not exist or is a folder.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a folder.
    """
    if not osp.exists(path):
        raise FileNotFoundError(f'{arg} {path!r} does not exist')
    if osp.isdir(path):
        raise ValueError(f'{arg} {path!r} is a folder, not a file')


def check_checkpoint_header(path: str, arg: str = 'checkpoint') -> None:
    """Refuses, without reading it whole, a file that cannot be a torch checkpoint: neither a
    zip archive (``torch.save``'s format) nor a pickle (the legacy format), e.g. a text file.

    Raises:
        FileNotFoundError / ValueError: see :func:`check_input_file`; or not a checkpoint.
    """
    check_input_file(path, arg)
    with open(path, 'rb') as f:
        head = f.read(4)
    if not (head.startswith(b'PK\x03\x04') or head[:1] == b'\x80'):
        raise ValueError(f'{arg} {path!r} is not a torch checkpoint (neither a torch.save zip '
                         'archive nor a pickle); it cannot be read: pass the .pth file the run '
                         'saved')


def one_line(e: BaseException) -> str:
    """The exception's message on one line (whitespace runs collapsed; a ``KeyError``'s
    quotes dropped), or its type name."""
    msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    msg = ' '.join(str(msg).split())
    return msg or type(e).__name__


#: the exceptions a tool reports as bad input (registries raise KeyError for an unknown type)
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError, KeyError)


@contextmanager
def cli_errors(prefix: str = 'error') -> Iterator[None]:
    """Turns :data:`USER_ERRORS` raised inside into ``SystemExit(2)`` after printing
    ``<prefix>: <one line>`` on stderr."""
    try:
        yield
    except USER_ERRORS as e:
        print(f'{prefix}: {one_line(e)}', file=sys.stderr)
        raise SystemExit(2) from None


def run_cli(parse_args: Callable[[Optional[Sequence[str]]], argparse.Namespace],
            body: Callable[[argparse.Namespace], Any],
            argv: Optional[Sequence[str]] = None) -> Any:
    """A tool's ``main``: ``body(parse_args(argv))`` with bad input reported as one line
    (:func:`cli_errors`); returns what ``body`` returns."""
    args = parse_args(argv)
    with cli_errors():
        return body(args)


def add_model_args(p: argparse.ArgumentParser, first: str, batch_size: int) -> None:
    """The arguments every config-vs-twin tool starts with: the RepL config (``first``: its
    name in the namespace), the optional E2E twin, ``--input-size``, ``--batch-size`` (default
    ``batch_size``), ``--cfg-options`` and ``--json``."""
    from mmengine.config import DictAction
    p.add_argument(first, help='RepL config file or preset name')
    p.add_argument('e2e', nargs='?', help='E2E twin config file or preset (default: derived)')
    p.add_argument('--input-size', type=int, nargs='+', metavar='S',
                   help='H W (or one size) instead of the config\'s training crop')
    p.add_argument('--batch-size', type=int, default=batch_size)
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='overrides of the RepL config, e.g. model.backbone.interval=3')
    p.add_argument('--json', help='write the result here (JSON)')
