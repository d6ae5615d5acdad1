"""Thin per-toolbox adapters: combine the shared RepL mechanics with each toolbox's backbone
classes and register them in that toolbox's ``MODELS`` registry.

Importing :mod:`repl_mm` imports every adapter whose toolbox is installed; ``AVAILABLE``
lists them. A toolbox that is not installed is skipped; any other import error is raised.
"""
import importlib
from typing import List

from .factory import make_resnet_repl_classes

__all__ = ['AVAILABLE', 'import_adapters', 'make_resnet_repl_classes']

AVAILABLE: List[str] = []
_ADAPTERS = {'mmpretrain': 'mmpretrain', 'mmdet': 'mmdet', 'mmseg': 'mmseg'}


def import_adapters() -> List[str]:
    """Imports the adapter of each installed toolbox; returns their scope names."""
    for scope, package in _ADAPTERS.items():
        if scope in AVAILABLE:
            continue
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as e:
            if e.name == package:
                continue
            raise
        importlib.import_module(f'{__name__}.{scope}')
        AVAILABLE.append(scope)
    return AVAILABLE
