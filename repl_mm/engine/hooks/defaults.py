"""The hooks every training run of repl-mm gets: :func:`add_default_hooks` puts
``NonFiniteLossHook`` and ``RNGStateHook`` into ``custom_hooks`` and makes the checkpoint hook
:class:`~repl_mm.engine.hooks.checkpoint_hook.SafeCheckpointHook` (used by ``tools/train.py``
and :class:`~repl_mm.engine.runner.repl_runner.ReplRunner`)."""
from typing import List, Mapping, Optional

from mmengine.config import Config

__all__ = ['DEFAULT_HOOKS', 'add_default_hooks', 'use_safe_checkpoint_hook']


#: hook types :func:`add_default_hooks` puts into every training config
DEFAULT_HOOKS: List[str] = ['NonFiniteLossHook', 'RNGStateHook']


def add_default_hooks(cfg: Config) -> List[str]:
    """Appends :data:`DEFAULT_HOOKS` missing from ``cfg.custom_hooks`` (any entry of a type,
    including one with ``enabled=False``, counts as present).

    Args:
        cfg (Config): the training config; changed in place.

    Returns:
        list[str]: the hook types added.
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {h.get('type') if isinstance(h, dict) else type(h).__name__ for h in hooks}
    present |= {t.__name__ for t in present if isinstance(t, type)}
    added = [name for name in DEFAULT_HOOKS if name not in present]
    hooks.extend(dict(type=name) for name in added)
    cfg.custom_hooks = hooks
    return added


#: checkpoint hook types :func:`use_safe_checkpoint_hook` replaces by ``SafeCheckpointHook``
_PLAIN_CHECKPOINT_HOOK = ('CheckpointHook', 'mmengine.CheckpointHook')


def use_safe_checkpoint_hook(default_hooks: Optional[Mapping]) -> dict:
    """``default_hooks`` with the checkpoint hook made ``SafeCheckpointHook``.

    A ``checkpoint`` entry of type ``CheckpointHook`` keeps all its arguments and becomes
    ``SafeCheckpointHook`` (a subclass); a missing entry becomes mmengine's default
    (``interval=1``) as ``SafeCheckpointHook``; ``checkpoint=None`` (no checkpoints), another
    type and a hook object are left as they are.

    Args:
        default_hooks (dict, optional): a runner's ``default_hooks``; not changed.

    Returns:
        dict: the new ``default_hooks``.
    """
    from mmengine.hooks import CheckpointHook
    hooks = dict(default_hooks or {})
    if 'checkpoint' not in hooks:
        hooks['checkpoint'] = dict(type='SafeCheckpointHook', interval=1)
        return hooks
    ckpt = hooks['checkpoint']
    if isinstance(ckpt, Mapping) and (ckpt.get('type') in _PLAIN_CHECKPOINT_HOOK
                                      or ckpt.get('type') is CheckpointHook):
        hooks['checkpoint'] = dict(ckpt, type='SafeCheckpointHook')
    return hooks
