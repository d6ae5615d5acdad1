"""repl_mm: Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain.

Importing this package registers the RepL backbones in the ``MODELS`` registry of every
installed toolbox, so a config with ``custom_imports=dict(imports=['repl_mm'])`` can use
``type='ResNetRepL'`` (and the other names in :mod:`repl_mm.adapters`). It also makes every
mmengine checkpoint load safe on torch >= 2.6 (:mod:`repl_mm.runtime.checkpoint`), so
``--resume`` works with the toolboxes' own tools too.
"""
from .core import *  # noqa: F401,F403
from .adapters import AVAILABLE, import_adapters
from .runtime.checkpoint import install_safe_checkpoint_loading

__version__ = '0.1.0'

import_adapters()
# mmengine 0.10.7 + torch >= 2.6: make resume / load_from / Pretrained load with
# weights_only=True and an allowlist of what mmengine saves (repl_mm.runtime.checkpoint)
install_safe_checkpoint_loading()
