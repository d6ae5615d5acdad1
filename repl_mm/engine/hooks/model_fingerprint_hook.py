"""Resume refuses a changed model.

mmengine's resume loads whatever fits: after ``num_classes`` 10 -> 12 it logs a "size
mismatch" among the other lines and trains on with a random head; a changed RepL ``interval``
(another removal plan) fails later in the optimizer with a message that never names it.

:class:`ModelFingerprintHook` records in every checkpoint the model's config, flattened to
``{'model.head.num_classes': '10', ...}`` (``model_config``), plus the name and shape of every
tensor of the state dict (``model_shapes``). On ``--resume`` it compares them with the model
being resumed and stops with :class:`ModelChangedError`, one line naming each differing key
with both values and the fix (a new work dir; ``load_from`` to fine-tune). Schedules, data,
logging and hooks are outside ``model`` and may change; so may the model's ``init_cfg`` /
``pretrained`` (initialisation, overwritten by the resume) and ``data_preprocessor``'s
``batch_augments`` / ``train_cfg.augments`` (data augmentation). ``load_from`` without resume
(fine-tuning) is not checked.
"""
import logging
from typing import Any, Dict, List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

__all__ = ['ModelChangedError', 'ModelFingerprintHook', 'flatten_model_config',
           'model_differences']

#: keys (last path element) that may change between a run and its resume
IGNORED_KEYS = ('init_cfg', 'pretrained', 'batch_augments', 'augments', 'test_cfg')


class ModelChangedError(ValueError):
    """The model being resumed is not the model of the checkpoint."""


def flatten_model_config(model_cfg: Any, prefix: str = 'model') -> Dict[str, str]:
    """``{'model.backbone.interval': '2', ...}``: every leaf of a model config as ``repr``.

    Args:
        model_cfg: the ``model`` field of a config (dict / ConfigDict; lists are indexed).
        prefix (str): the name of the root.
    """
    out: Dict[str, str] = {}

    def walk(value: Any, path: str) -> None:
        last = path.rsplit('.', 1)[-1]
        if last in IGNORED_KEYS:
            return
        if isinstance(value, dict):
            if not value:
                out[path] = '{}'
            for key in sorted(value, key=str):
                walk(value[key], f'{path}.{key}')
        elif isinstance(value, (list, tuple)):
            if not value:
                out[path] = repr(type(value)())
            for i, item in enumerate(value):
                walk(item, f'{path}[{i}]')
        else:
            out[path] = value.__name__ if isinstance(value, type) else repr(value)

    walk(model_cfg, prefix)
    return out


def model_differences(saved: Dict[str, str], current: Dict[str, str]
                      ) -> List[Tuple[str, str, str]]:
    """``[(key, checkpoint value, current value)]`` for every key that differs (a missing
    key reads ``<absent>``)."""
    rows = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, '<absent>'), current.get(key, '<absent>')
        if a != b:
            rows.append((key, a, b))
    return rows


def _model(runner) -> Any:
    from mmengine.model import is_model_wrapper
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def _shapes(model) -> Dict[str, str]:
    return {k: 'x'.join(map(str, v.shape)) or 'scalar' for k, v in model.state_dict().items()
            if hasattr(v, 'shape')}


@HOOKS.register_module()
class ModelFingerprintHook(Hook):
    """Records the model in every checkpoint, refuses to resume a different one.

    Args:
        enabled (bool): Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f'ModelFingerprintHook: enabled must be True or False, got '
                            f'{enabled!r}')
        self.enabled = enabled

    @staticmethod
    def _config(runner) -> Optional[Dict[str, str]]:
        cfg = getattr(runner, 'cfg', None)
        model_cfg = cfg.get('model', None) if cfg is not None else None
        return flatten_model_config(model_cfg) if isinstance(model_cfg, dict) else None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enabled:
            return
        config = self._config(runner)
        if config is not None:
            checkpoint['model_config'] = config
        checkpoint['model_shapes'] = _shapes(_model(runner))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enabled or not getattr(runner, '_resume', False):
            return  # load_from (fine-tuning) may change the model on purpose
        rows: List[Tuple[str, str, str]] = []
        saved, current = checkpoint.get('model_config'), self._config(runner)
        if isinstance(saved, dict) and current is not None:
            rows += model_differences(saved, current)
        saved_shapes = checkpoint.get('model_shapes')
        if isinstance(saved_shapes, dict):
            shape_rows = model_differences(saved_shapes, _shapes(_model(runner)))
            if not rows:  # the config says the same, the weights do not: name the tensors
                rows += [(f'state_dict[{k!r}] shape', a, b) for k, a, b in shape_rows]
        if saved is None and saved_shapes is None:
            print_log('The checkpoint has no model fingerprint (saved without '
                      'ModelFingerprintHook): cannot check that the resumed model is the '
                      "checkpoint's.", logger='current', level=logging.WARNING)
            return
        if rows:
            shown = '; '.join(f'{key}: {a} in the checkpoint, {b} now' for key, a, b in rows[:8])
            more = f' (and {len(rows) - 8} more)' if len(rows) > 8 else ''
            raise ModelChangedError(
                f'cannot resume: the model differs from the checkpoint\'s: {shown}{more}. '
                'Train the changed model in a new --work-dir, or fine-tune from the checkpoint '
                'with load_from=CHECKPOINT (without --resume).')
