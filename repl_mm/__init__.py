"""repl_mm: Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain.

Importing this package registers the RepL backbones in the ``MODELS`` registry of every
installed toolbox, so a config with ``custom_imports=dict(imports=['repl_mm'])`` can use
``type='ResNetRepL'`` (and the other names in :mod:`repl_mm.adapters`).
"""
from .core import *  # noqa: F401,F403
from .adapters import AVAILABLE, import_adapters

__version__ = '0.1.0'

import_adapters()
