"""Which toolbox a config belongs to, and making its registries the default ones."""
import importlib

from mmengine.config import Config
from mmengine.registry import init_default_scope

__all__ = ['TOOLBOX_SCOPES', 'detect_scope', 'setup_scope']

#: The toolboxes the tools serve: ``default_scope`` of the config -> importable package.
TOOLBOX_SCOPES = {'mmdet': 'mmdet', 'mmseg': 'mmseg', 'mmpretrain': 'mmpretrain'}


def detect_scope(cfg: Config) -> str:
    """The toolbox of ``cfg``, read from its ``default_scope`` (set by every base config of
    mmdet, mmseg and mmpretrain: ``_base_/default_runtime.py``).

    Raises:
        ValueError: ``default_scope`` is missing or names another toolbox.
    """
    scope = cfg.get('default_scope', None)
    if scope not in TOOLBOX_SCOPES:
        raise ValueError(f'default_scope of the config must be one of {tuple(TOOLBOX_SCOPES)} '
                         f'(inherit a base config of that toolbox, e.g. '
                         f"_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'), "
                         f'got {scope!r}')
    return scope


def setup_scope(cfg: Config) -> str:
    """Imports the config's toolbox and :mod:`repl_mm` (so every RepL type resolves, whether or
    not the config lists ``custom_imports``), and makes the toolbox the default registry scope.

    Returns:
        str: the scope name (``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``).
    """
    scope = detect_scope(cfg)
    importlib.import_module(TOOLBOX_SCOPES[scope])
    import repl_mm  # noqa: F401  registers the RepL backbones in every installed toolbox
    if scope not in repl_mm.AVAILABLE:
        raise ValueError(f'repl_mm has no adapter for scope {scope!r}; available: '
                         f'{repl_mm.AVAILABLE}')
    init_default_scope(scope)
    return scope
