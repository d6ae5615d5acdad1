"""``tools/dataset_converters/prepare_fashion_mnist.py``: check Fashion-MNIST's four idx files
and lay them out for the configs (``data/fashion-mnist``, uncompressed, as mmpretrain's
``FashionMNIST`` reads them). See :mod:`repl_mm.datasets.fashion_mnist`."""
import argparse
import sys
from typing import Optional, Sequence

from ..datasets.fashion_mnist import DEBIAN_DIR, DEFAULT_DATA_ROOT, IdxFileError, prepare


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check Fashion-MNIST and lay it out for configs/*fashion-mnist*.py')
    parser.add_argument('--src', default=None,
                        help=f'folder with the four *-ubyte[.gz] files (default: {DEBIAN_DIR}, '
                        'where `apt-get install dataset-fashion-mnist` puts them)')
    parser.add_argument('--dst', default=DEFAULT_DATA_ROOT,
                        help=f'the configs\' data_root (default: {DEFAULT_DATA_ROOT})')
    parser.add_argument('--force', action='store_true',
                        help='replace files in --dst that differ from the source')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        counts = prepare(args.src, args.dst, force=args.force)
    except IdxFileError as err:
        print(f'prepare_fashion_mnist: {err}', file=sys.stderr)
        return 1
    print(f'Fashion-MNIST ready in {args.dst}: {counts["train"]} training and '
          f'{counts["test"]} test images. Train with: python tools/train.py '
          'configs/cifar-resnet32_repl_fashion-mnist.py')
    return 0
