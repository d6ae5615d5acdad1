"""Convert a stock end-to-end (E2E) ResNet checkpoint into a RepL initialisation.

    python tools/model_converters/convert_e2e_to_repl.py SRC DST \\
        --config configs/resnet50-v1c_repl_imagenet.py
    python tools/model_converters/convert_e2e_to_repl.py resnet50-torchvision.pth DST \\
        --depth 50 --interval 4

A thin entry point (``repl-mm-convert`` once installed):
the logic is repl_mm.cli.convert_e2e_to_repl.
"""
import sys

from repl_mm.cli.convert_e2e_to_repl import main, parse_args  # noqa: F401

if __name__ == '__main__':
    sys.exit(main())
