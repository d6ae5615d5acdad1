"""``RNGStateHook``: saves the Python, numpy and torch (CPU and CUDA) random states and the
position in the epoch in every checkpoint and restores them on resume, so a resumed run with
random augmentation equals the uninterrupted run bit for bit. Registered in mmengine's
``HOOKS`` (the toolboxes' registries fall back to it)."""
import logging
import random
from functools import partial
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']


def get_rng_state() -> Dict[str, Any]:
    """The Python, numpy and torch (CPU and every CUDA device) random states."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: Dict[str, Any] = {
        'python': {'version': version, 'state': list(internal), 'gauss': gauss},
        'numpy': {'name': name, 'keys': keys, 'pos': int(pos), 'has_gauss': int(has_gauss),
                  'cached_gaussian': float(cached)},
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restores what :func:`get_rng_state` returned."""
    py = state['python']
    random.setstate((py['version'], tuple(py['state']), py['gauss']))
    npy = state['numpy']
    np.random.set_state((npy['name'], np.asarray(npy['keys'], dtype=np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        if n != len(cuda):
            print_log(f'The checkpoint holds CUDA random states of {len(cuda)} devices, this '
                      f'process sees {torch.cuda.device_count()}: restored the first {n}.',
                      logger='current', level=logging.WARNING)
        for i in range(n):
            torch.cuda.set_rng_state(cuda[i], i)


def _data_seeds(loader: Any) -> Tuple[Optional[int], Optional[int]]:
    """The seed of the loader's sampler and of its workers (mmengine's ``worker_init_fn``)."""
    sampler_seed = getattr(getattr(loader, 'sampler', None), 'seed', None)
    init_fn = getattr(loader, 'worker_init_fn', None)
    worker_seed = init_fn.keywords.get('seed') if isinstance(init_fn, partial) else None
    return (sampler_seed if isinstance(sampler_seed, int) else None,
            worker_seed if isinstance(worker_seed, int) else None)


def _restore_data_seeds(loop: Any, state: Dict[str, Any], epoch_based: bool) -> None:
    """Gives the sampler and the workers the checkpointed run's seeds.

    With ``randomness.seed=None`` every run draws its own seed, and mmengine builds the
    sampler (and the workers' ``worker_init_fn``) with it before resuming, so the resumed run
    would shuffle and augment differently from the run it continues.
    """
    loader = loop.dataloader
    sampler = getattr(loader, 'sampler', None)
    saved_sampler, saved_worker = state.get('sampler_seed'), state.get('worker_seed')
    current_sampler, current_worker = _data_seeds(loader)
    changed = []
    if saved_sampler is not None and current_sampler is not None \
            and saved_sampler != current_sampler:
        sampler.seed = saved_sampler
        if hasattr(sampler, 'indices') and hasattr(sampler, '_indices_of_rank'):
            sampler.indices = sampler._indices_of_rank()  # InfiniteSampler: a new generator
        changed.append(f'sampler seed {current_sampler} -> {saved_sampler}')
    if saved_worker is not None and current_worker is not None \
            and saved_worker != current_worker:
        init_fn = loader.worker_init_fn
        loader.worker_init_fn = partial(init_fn.func, *init_fn.args,
                                        **dict(init_fn.keywords, seed=saved_worker))
        changed.append(f'worker seed {current_worker} -> {saved_worker}')
    if not changed:
        return
    print_log('Resumed the data order and augmentation seeds of the checkpointed run ('
              + ', '.join(changed) + ').', logger='current')
    if not epoch_based and hasattr(loop, 'dataloader_iterator'):
        # the iteration-based loop made its iterator (and started its workers) with the old
        # seeds when it was built
        from mmengine.runner.loops import _InfiniteDataloaderIterator
        loop.dataloader_iterator = _InfiniteDataloaderIterator(loader)


class _RestoreAfter:
    """Iterates ``iterable``, calling ``restore`` right before item ``skip`` is fetched.

    Item ``skip`` is the first one the resumed run trains on; everything fetched before it
    only replays the data the checkpointed run had already consumed.
    """

    def __init__(self, iterable: Any, skip: int, restore) -> None:
        self._iterable = iterable
        self._skip = skip
        self._restore = restore

    def __len__(self) -> int:
        return len(self._iterable)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterable, name)

    def __iter__(self) -> Iterator:
        it = iter(self._iterable)
        for _ in range(self._skip):
            next(it)
        self._restore()
        yield from it


class _RestoreAtCall:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator``: after ``skip`` ``next`` calls
    (mmengine's own replay of the trained data) restores the random state, then hands the
    loop its iterator back."""

    def __init__(self, loop: Any, iterator: Any, skip: int, restore) -> None:
        self._loop, self._iterator, self._left, self._restore = loop, iterator, skip, restore

    def __next__(self) -> Any:
        if self._left == 0:
            # onedl-mmengine's skip_iter drops the torch iterator and makes it lazily here; its
            # creation draws the base seed from torch's generator, which the uninterrupted run
            # did at its first batch: draw it before the state is restored, not after
            ensure = getattr(self._iterator, '_ensure_iterator', None)
            if callable(ensure):
                ensure()
            self._restore()
            self._loop.dataloader_iterator = self._iterator
            return next(self._iterator)
        self._left -= 1
        return next(self._iterator)

    def skip_iter(self, n: int) -> None:
        """onedl-mmengine's replay: ``IterBasedTrainLoop`` skips the trained iterations with
        one ``skip_iter(n)`` (at the sampler where it can) instead of ``n`` ``next`` calls."""
        self._iterator.skip_iter(n)
        self._left = max(self._left - n, 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Saves and restores the random state, so that resuming is bit-exact.

    In every checkpoint it stores ``rng_state``: the Python, numpy and torch (CPU, CUDA)
    generators of the training stream and the position in the epoch (``batch_in_epoch``). On
    resume it restores them right before the first batch the resumed run trains on: for an
    epoch-based loop at the start of the epoch (after skipping ``batch_in_epoch`` batches if
    the checkpoint was saved mid-epoch -- mmengine would otherwise train those again), for an
    iteration-based loop after mmengine's replay of the already-trained iterations. The data
    samplers (``DefaultSampler``, ``InfiniteSampler``) are seeded by the run's seed and epoch,
    so their position follows from the epoch and the skipped batches.

    Validation during training runs on a copy of the random state (saved before, restored
    after), so validating or not -- and resuming, which skips the validation of the
    checkpointed epoch -- does not change the training stream.

    Limits: with ``persistent_workers=True`` and ``num_workers > 0`` in an epoch-based loop
    the workers' random states live in the worker processes and are not in the checkpoint (a
    warning says so on resume); in a multi-process run the checkpoint holds rank 0's state,
    which is restored on rank 0 only.

    Args:
        enabled (bool): save and restore the states. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f'RNGStateHook: enabled must be True or False, got {enabled!r}')
        self.enabled = enabled
        self._pending: Optional[Dict[str, Any]] = None
        self._train_state: Optional[Dict[str, Any]] = None  # stashed during validation
        self._batch_in_epoch = 0
        self._patched_loader: Optional[Any] = None

    # -- saving ---------------------------------------------------------------------------
    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        self._batch_in_epoch = batch_idx + 1

    def after_train_epoch(self, runner) -> None:
        self._batch_in_epoch = 0  # runs before CheckpointHook (priority): next epoch's start
        if self._patched_loader is not None:
            runner.train_loop.dataloader = self._patched_loader
            self._patched_loader = None

    def before_val(self, runner) -> None:
        if self.enabled and self._training(runner):
            self._train_state = get_rng_state()

    def after_val(self, runner) -> None:
        if self._train_state is not None:
            set_rng_state(self._train_state)
            self._train_state = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enabled:
            return
        # a save from inside validation (save_best) stores the training stream's state
        state = self._train_state if self._train_state is not None else get_rng_state()
        by_epoch = self._epoch_based(runner)
        sampler_seed, worker_seed = _data_seeds(runner.train_loop.dataloader)
        checkpoint['rng_state'] = dict(
            state, batch_in_epoch=self._batch_in_epoch if by_epoch else 0,
            epoch_based=by_epoch, world_size=int(getattr(runner, 'world_size', 1)),
            sampler_seed=sampler_seed, worker_seed=worker_seed)

    # -- restoring ------------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enabled or not getattr(runner, '_resume', False):
            return  # load_from (fine-tuning) keeps the fresh run's randomness
        state = checkpoint.get('rng_state')
        if state is None:
            print_log('The checkpoint has no random state (saved without RNGStateHook): the '
                      'resumed run will not repeat the random augmentation of an '
                      'uninterrupted run.', logger='current', level=logging.WARNING)
            return
        self._pending = state

    def before_train_epoch(self, runner) -> None:
        state, self._pending = self._pending, None
        if state is None:
            return
        loop = runner.train_loop
        _restore_data_seeds(loop, state, self._epoch_based(runner))
        restore = self._restorer(runner, state)
        if self._epoch_based(runner):
            self._warn_persistent_workers(loop)
            skip = int(state.get('batch_in_epoch', 0))
            if skip == 0:
                restore()
                return
            print_log(f'The checkpoint was saved after batch {skip} of epoch '
                      f'{runner.epoch + 1}: skipping those batches.', logger='current')
            self._patched_loader = loop.dataloader
            loop.dataloader = _RestoreAfter(loop.dataloader, skip, restore)
            return
        # onedl-mmengine's fast_forward_on_resume=True does not replay the trained iterations
        if getattr(loop, 'iter', 0) > 0 and hasattr(loop, 'dataloader_iterator') \
                and not getattr(loop, 'fast_forward_on_resume', False):
            loop.dataloader_iterator = _RestoreAtCall(loop, loop.dataloader_iterator, loop.iter,
                                                      restore)
        else:
            restore()

    @staticmethod
    def _restorer(runner, state: Dict[str, Any]):
        """``set_rng_state(state)`` on rank 0; other ranks keep mmengine's seeding (the
        checkpoint holds rank 0's generators only -- copying them to every rank would make the
        ranks' random streams identical)."""
        from mmengine.dist import get_rank, get_world_size
        if get_world_size() > 1:
            if get_rank() != 0:
                return lambda: None
            print_log('Multi-process run: the random state of the checkpoint is rank 0\'s and '
                      'is restored on rank 0 only; the other ranks are not bit-exact.',
                      logger='current', level=logging.WARNING)
        return lambda: set_rng_state(state)

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _training(runner) -> bool:
        from mmengine.runner import BaseLoop
        return isinstance(getattr(runner, '_train_loop', None), BaseLoop)

    @staticmethod
    def _epoch_based(runner) -> bool:
        from mmengine.runner import EpochBasedTrainLoop
        return isinstance(getattr(runner, '_train_loop', None), EpochBasedTrainLoop)

    @staticmethod
    def _warn_persistent_workers(loop) -> None:
        loader = loop.dataloader
        if getattr(loader, 'num_workers', 0) > 0 and getattr(loader, 'persistent_workers',
                                                             False):
            print_log('persistent_workers=True with num_workers > 0: the data workers keep '
                      'their random state across epochs and it is not in the checkpoint, so '
                      'the random augmentation after this resume differs from an '
                      'uninterrupted run. Set persistent_workers=False for a bit-exact resume.',
                      logger='current', level=logging.WARNING)
