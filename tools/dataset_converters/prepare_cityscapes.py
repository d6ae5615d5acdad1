"""Prepare CityScapes for the DeepLab configs (Table XIV): write ``*_gtFine_labelTrainIds.png``.

    pip install cityscapesscripts
    python tools/dataset_converters/prepare_cityscapes.py data/cityscapes --nproc 8
    python tools/dataset_converters/prepare_cityscapes.py data/cityscapes --check      # verify only

A thin entry point (``repl-mm-prepare-cityscapes`` once installed): the logic is
repl_mm.cli.prepare_cityscapes.
"""
import sys

from repl_mm.cli.prepare_cityscapes import main

if __name__ == '__main__':
    sys.exit(main())
