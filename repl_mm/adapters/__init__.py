"""Thin per-toolbox adapters: each module declares the RepL classes on that toolbox's
backbones, registers them in its ``MODELS`` registry, and describes the toolbox once
(:class:`~.toolbox.Toolbox`: registry, test batches, visualization hook, result dumping).

Importing :mod:`repl_mm` imports every adapter whose toolbox is installed; ``AVAILABLE``
lists them, :func:`get_toolbox` returns one descriptor.
"""
from .batches import synthetic_batch
from .build import build_in_scope
from .toolbox import AVAILABLE, TOOLBOX_SCOPES, Toolbox, get_toolbox, import_adapters

__all__ = ['build_in_scope', 'AVAILABLE', 'TOOLBOX_SCOPES', 'Toolbox', 'get_toolbox',
           'import_adapters', 'synthetic_batch']
