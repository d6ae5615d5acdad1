"""Check Fashion-MNIST and lay it out under data/fashion-mnist (docs/evidence.md).

    apt-get install dataset-fashion-mnist
    python tools/dataset_converters/prepare_fashion_mnist.py [--src DIR] [--dst DIR] [--force]
"""
import sys

from repl_mm.cli.prepare_fashion_mnist import main

if __name__ == '__main__':
    sys.exit(main())
