"""repl_mm: Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain.

Importing this package registers the RepL backbones in the ``MODELS`` registry of every
installed toolbox (:mod:`repl_mm.adapters`), so a config with
``custom_imports=dict(imports=['repl_mm'])`` can use ``type='ResNetRepL'``. It also makes every
mmengine checkpoint load safe on torch >= 2.6 (:mod:`repl_mm.runtime.checkpoint`), every save
crash-safe (:mod:`repl_mm.runtime.safe_save`) and auto-resume fall back to the newest loadable
checkpoint (:mod:`repl_mm.runtime.resume`) -- each installed once, so this also holds for the
toolboxes' own tools.

Layers (see docs/architecture.md): ``core`` -> ``models`` -> ``adapters`` -> ``runtime`` /
``analysis`` / ``testing`` -> ``tools``.
"""
from .adapters import AVAILABLE, get_toolbox, import_adapters
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all
from .engine import hooks as _engine_hooks  # noqa: F401  registered hooks
from .engine import loops as _engine_loops  # noqa: F401  registered loop
from .runtime.adaptive import AdaptiveRepLHook  # noqa: F401  registered hook
from .runtime.checkpoint import install_safe_checkpoint_loading
from .runtime.hooks import NonFiniteLossHook, RNGStateHook  # noqa: F401  registered hooks
from .runtime.resume import install_resume_fallback
from .runtime.safe_save import install_crash_safe_saving

__all__ = ['AVAILABLE', 'get_toolbox', 'import_adapters', *_core_all]

__version__ = '0.1.0'

import_adapters()
# mmengine 0.10.7 + torch >= 2.6: make resume / load_from / Pretrained load with
# weights_only=True and an allowlist of what mmengine saves (repl_mm.runtime.checkpoint);
# crash-safe saves and rotation; auto-resume from the newest loadable checkpoint
install_safe_checkpoint_loading()
install_crash_safe_saving()
install_resume_fallback()
