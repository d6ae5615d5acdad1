"""``AdaptiveRepLHook``: the epoch-wise replacement mask of Adaptive-RepL (paper §IV-D1h,
eq. 34, Table XV).

At the first iteration of every training epoch the hook scores every candidate block of the
adaptive backbone on that iteration's batch (:func:`repl_mm.models.adaptive.redundancy_scores`:
input-output cosine similarity, all blocks run, no gradients), averages the scores over the
processes (every rank must replace the same blocks), selects the top-``|F|`` non-adjacent
blocks (eq. 34) and sets the mask for the epoch. The mask is logged, kept in the message hub
(``adaptive_repl_mask``), written into every checkpoint (``checkpoint['adaptive_repl']``) and
restored from it on resume, ``load_from`` and test, so a resumed run and a test run use the
mask the model was trained with.

Config::

    custom_imports = dict(imports=['repl_mm', 'repl_mm.engine.hooks.adaptive_repl_hook'],
                          allow_failed_imports=False)
    model = dict(backbone=dict(adaptive=True))
    custom_hooks = [dict(type='AdaptiveRepLHook')]
    find_unused_parameters = True   # replaced blocks / idle computing layers get no gradient
"""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop
from torch import nn

from ...models.adaptive import redundancy_scores

__all__ = ['AdaptiveRepLHook', 'CHECKPOINT_KEY', 'adaptive_backbone']

#: where the hook keeps the mask in a checkpoint
CHECKPOINT_KEY = 'adaptive_repl'


def adaptive_backbone(model: nn.Module) -> nn.Module:
    """The adaptive RepL backbone of a (possibly DDP-wrapped) model.

    Raises:
        ValueError: the model's backbone was not built with ``adaptive=True``.
    """
    if is_model_wrapper(model):
        model = model.module
    backbone = getattr(model, 'backbone', model)
    if not getattr(backbone, 'adaptive', False) or not hasattr(backbone, 'adaptive_select'):
        raise ValueError(f'AdaptiveRepLHook needs a RepL backbone built with adaptive=True '
                         f'(model.backbone.adaptive=True), got {type(backbone).__name__} with '
                         f"adaptive={getattr(backbone, 'adaptive', None)!r}")
    return backbone


def _mean_over_ranks(scores: Sequence[Dict[int, float]]) -> List[Dict[int, float]]:
    keys = [(s, i) for s, st in enumerate(scores) for i in sorted(st)]
    if get_world_size() == 1 or not keys:
        return [dict(st) for st in scores]
    t = torch.tensor([scores[s][i] for s, i in keys], dtype=torch.float64)
    if torch.cuda.is_available() and torch.distributed.get_backend() == 'nccl':
        t = t.cuda()
    all_reduce(t, op='mean')
    out: List[Dict[int, float]] = [dict() for _ in scores]
    for (s, i), v in zip(keys, t.tolist()):
        out[s][i] = v
    return out


@HOOKS.register_module()
class AdaptiveRepLHook(Hook):
    """Recomputes the Adaptive-RepL mask at the start of every training epoch (eq. 34).

    Args:
        first_epoch_mask (str): the mask of epoch 1: ``'scores'`` (default: scored like every
            other epoch) or ``'fixed'`` (the fixed plan of the config, scores from epoch 2).
    """

    priority = 'NORMAL'

    def __init__(self, first_epoch_mask: str = 'scores') -> None:
        if first_epoch_mask not in ('scores', 'fixed'):
            raise ValueError(f"first_epoch_mask must be 'scores' or 'fixed', got "
                             f'{first_epoch_mask!r}')
        self.first_epoch_mask = first_epoch_mask
        self.last_scores: Optional[List[Dict[int, float]]] = None

    def before_train(self, runner) -> None:
        adaptive_backbone(runner.model)
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise ValueError('AdaptiveRepLHook selects the replaced blocks once per epoch: it '
                             'needs an epoch-based train loop (train_cfg.by_epoch=True), got '
                             f'{type(runner.train_loop).__name__}')

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        if batch_idx != 0:
            return
        if self.first_epoch_mask == 'fixed' and runner.epoch == 0:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = adaptive_backbone(model)
        inputs = model.data_preprocessor(data_batch, True)['inputs']
        scores = _mean_over_ranks(redundancy_scores(backbone, inputs))
        mask = backbone.adaptive_select(scores)
        self.last_scores = scores
        runner.message_hub.update_info('adaptive_repl_mask', mask)
        runner.logger.info(
            f'Adaptive-RepL epoch {runner.epoch + 1}: replacing blocks {mask} '
            f'(|F| = {backbone.adaptive_count}, eq. 34); redundancy scores '
            + '; '.join(f'stage {s + 1}: ' + ', '.join(f'{i}={v:.3f}' for i, v in st.items())
                        for s, st in enumerate(scores)))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        backbone = adaptive_backbone(runner.model)
        checkpoint[CHECKPOINT_KEY] = dict(
            mask=backbone.adaptive_mask, count=backbone.adaptive_count,
            scores=None if self.last_scores is None else
            [{int(i): float(v) for i, v in st.items()} for st in self.last_scores])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        backbone = adaptive_backbone(runner.model)
        state = checkpoint.get(CHECKPOINT_KEY)
        sd = checkpoint.get('state_dict') or {}
        if state is None and ((checkpoint.get('meta') or {}).get('repl_deploy')
                              or any(k.endswith('.adaptive_mask_state') for k in sd)):
            return  # the load restores the mask from the keys (adapt_to_state_dict)
        if state is None:
            if isinstance(getattr(runner, '_train_loop', None), BaseLoop):
                return  # an initialisation (load_from): the first epoch scores a mask anyway
            raise ValueError(
                f"the checkpoint has no '{CHECKPOINT_KEY}' entry, so the blocks its model "
                'replaced are unknown: evaluate a checkpoint written by a run with '
                'AdaptiveRepLHook, or drop adaptive=True to evaluate a fixed-plan model')
        if state.get('count') != backbone.adaptive_count:
            raise ValueError(f"checkpoint's Adaptive-RepL mask replaces {state.get('count')} "
                             f'blocks, this model |F| = {backbone.adaptive_count}: the config '
                             "differs from the run's (interval / replace_blocks)")
        backbone.set_adaptive_mask(state['mask'])
        if state.get('scores') is not None:
            self.last_scores = [dict(st) for st in state['scores']]
        runner.logger.info(f"Adaptive-RepL: restored mask {state['mask']} from the checkpoint")
