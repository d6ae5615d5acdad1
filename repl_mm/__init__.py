"""repl_mm: Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain.

Importing this package changes nothing but registries:

* the RepL backbones go into the ``MODELS`` registry of every installed toolbox
  (:mod:`repl_mm.adapters`), so a config with ``custom_imports=dict(imports=['repl_mm'])`` can
  use ``type='ResNetRepL'``;
* :mod:`repl_mm.engine` registers ``ReplRunner`` (``RUNNERS``), ``SafeCheckpointHook``,
  ``NonFiniteLossHook``, ``RNGStateHook``, ``AdaptiveRepLHook`` (``HOOKS``) and a safe
  (``weights_only``) loader for every checkpoint scheme
  (``CheckpointLoader.register_scheme(..., force=True)``).

No mmengine, toolbox or torch function is replaced and no environment variable is set. The
crash-safe saving, the auto-resume fallback and the hooks come with ``runner_type='ReplRunner'``
(set in this repository's configs and by ``tools/train.py``); see docs/training.md for what each
way of using repl-mm gets.

Layers (see docs/architecture.md): ``core`` -> ``models`` -> ``adapters`` -> ``engine`` /
``analysis`` / ``testing`` -> ``tools``.
"""
from . import engine  # noqa: F401  registers ReplRunner, the hooks and the checkpoint schemes
from .adapters import AVAILABLE, get_toolbox, import_adapters
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all

__all__ = ['AVAILABLE', 'get_toolbox', 'import_adapters', *_core_all]

__version__ = '0.1.0'

import_adapters()
