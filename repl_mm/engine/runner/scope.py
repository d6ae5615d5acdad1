"""Which toolbox a config belongs to, and making its registries the default ones."""
import importlib

from mmengine.config import Config
from mmengine.registry import init_default_scope

from ...adapters import TOOLBOX_SCOPES, get_toolbox

__all__ = ['TOOLBOX_SCOPES', 'detect_scope', 'setup_scope']


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
    """Imports the config's toolbox and its repl_mm adapter (so every RepL type resolves,
    whether or not the config lists ``custom_imports``), and makes the toolbox the default
    registry scope.

    Returns:
        str: the scope name (``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``).
    """
    scope = detect_scope(cfg)
    importlib.import_module(TOOLBOX_SCOPES[scope])
    get_toolbox(scope)  # raises naming the scope if its toolbox is not installed
    init_default_scope(scope)
    return scope
