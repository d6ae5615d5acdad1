"""What the command lines of ``tools/deployment/pytorch2onnx.py`` and
``tools/model_converters/reparameterize_model.py`` share: ``--cfg-options`` and the checks of
the output name and ``--input-size`` (one line naming the argument, exit code 2)."""
import argparse
from typing import Optional, Sequence

from mmengine.config import DictAction

__all__ = ['parse_checked']


def parse_checked(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]], out: str,
                  suffix: str) -> argparse.Namespace:
    """Adds ``--cfg-options`` (last), parses ``argv`` and refuses (``parser.error``) an output
    argument ``out`` that does not end with ``suffix`` and an ``--input-size`` that is not
    ``H`` or ``H W``."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    args = parser.parse_args(argv)
    value = getattr(args, out)
    if not value.endswith(suffix):
        parser.error(f'{out} must end with {suffix}, got {value!r}')
    if args.input_size is not None and len(args.input_size) not in (1, 2):
        parser.error(f'--input-size takes H or H W, got {args.input_size}')
    return args
