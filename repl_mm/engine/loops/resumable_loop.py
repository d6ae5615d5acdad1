"""An epoch-based train loop whose resume is exact, mid-epoch included, for any number of
processes, loader workers and ``persistent_workers``.

Why mmengine's ``EpochBasedTrainLoop`` is not exact after a resume:

* a checkpoint taken inside an epoch (:class:`~repl_mm.engine.hooks.PreemptionCheckpointHook`)
  is resumed from the start of that epoch: the consumed batches are trained again;
* the random augmentation runs in the loader's workers, whose generators are seeded once when
  they start (mmengine's ``worker_init_fn``). With ``persistent_workers=True`` they live for the
  whole run, so in epoch 3 of an uninterrupted run they continue from epoch 2, while after a
  resume fresh workers start from the seed again. Their states are not in any checkpoint;
* every rank has its own random stream (dropout, drop-path, augmentation without workers), and
  a checkpoint holds rank 0's at most.

:class:`ResumableEpochBasedTrainLoop` removes the dependence on any state that a checkpoint
cannot hold, instead of trying to save it:

* **per-sample seeding**: before each sample is loaded, the Python, numpy and torch generators
  of the process that loads it (a worker or the main process) are seeded from
  ``(seed, epoch, rank, batch, position in the batch)``. The augmentation of a sample is a
  function of where it is in the run, not of which worker loads it or of what that worker did
  before;
* **per-iteration seeding**: before each training step the main process's generators are
  seeded from ``(seed, rank, iteration)``;
* **skipping at the sampler**: resuming inside an epoch, the batch sampler drops the index lists
  of the batches already trained (``iteration - epoch * len(dataloader)`` of them) before any
  worker sees them: nothing is loaded twice.

So a run stopped anywhere (a preemption checkpoint, an end-of-epoch checkpoint, ``kill -9``)
and resumed trains on the same batches with the same augmentation and the same dropout masks
as the uninterrupted run, on every rank: every tensor ends equal. The random streams differ from
mmengine's loop (they are seeded differently), they are not less random.

Limits: indices are wrapped as ``(index, key)`` pairs between the batch sampler and the dataset
(the loop wraps the dataset so ``dataset[(index, key)]`` seeds and loads ``dataset[index]``);
an ``IterableDataset`` is refused. The loop's ``dataloader`` is rebuilt from the one mmengine
built (same sampler, batch sampler, workers, collate function).

Use it with ``train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=...)``;
``tools/train.py`` swaps it in for ``train_cfg = dict(by_epoch=True, ...)``.
"""
import random
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader, Dataset, IterableDataset

__all__ = ['ResumableEpochBasedTrainLoop', 'seed_everything_from']


def _seed_from(*key: int) -> int:
    """A 63-bit seed that depends on every element of ``key`` (numpy's SeedSequence)."""
    words = np.random.SeedSequence([int(k) & 0xFFFFFFFFFFFFFFFF for k in key]
                                   ).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def seed_everything_from(*key: int) -> None:
    """Seeds Python's, numpy's and torch's global generators from ``key``."""
    seed = _seed_from(*key)
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed & 0x7FFFFFFFFFFFFFFF)


class _SeededDataset(Dataset):
    """``dataset[(index, key)]``: seeds the loading process from ``key``, returns
    ``dataset[index]``. Everything else is the wrapped dataset's."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], tuple):
            index, key = item
            seed_everything_from(*key)
            return self.dataset[index]
        return self.dataset[item]

    def __getattr__(self, name: str) -> Any:
        if name == 'dataset':  # unpickling: not set yet
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # hooks that switch the pipeline (mmdet's PipelineSwitchHook) set it on the dataset
        if name == 'dataset':
            object.__setattr__(self, name, value)
        else:
            setattr(self.dataset, name, value)


class _ResumableBatchSampler:
    """Wraps a batch sampler: skips the first ``skip`` batches of the next epoch (their
    indices are never handed to a worker) and pairs every index with its seeding key."""

    def __init__(self, batch_sampler: Any) -> None:
        self.batch_sampler = batch_sampler
        self.sampler = getattr(batch_sampler, 'sampler', None)  # set_epoch (DistSamplerSeedHook)
        self.skip = 0
        self.key: Tuple[int, ...] = (0, 0, 0)  # (seed, epoch, rank)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __getattr__(self, name: str) -> Any:
        if name == 'batch_sampler':
            raise AttributeError(name)
        return getattr(self.batch_sampler, name)

    def __iter__(self) -> Iterator[List[Tuple[int, Tuple[int, ...]]]]:
        skip, self.skip = self.skip, 0
        key = self.key
        for b, batch in enumerate(self.batch_sampler):
            if b < skip:
                continue
            yield [(index, key + (b, j)) for j, index in enumerate(batch)]


def _rebuild(loader: DataLoader, batch_sampler: _ResumableBatchSampler) -> DataLoader:
    kwargs = dict(num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                  pin_memory=loader.pin_memory, timeout=loader.timeout,
                  worker_init_fn=loader.worker_init_fn,
                  multiprocessing_context=loader.multiprocessing_context,
                  generator=loader.generator, persistent_workers=loader.persistent_workers)
    if loader.num_workers > 0:
        kwargs['prefetch_factor'] = loader.prefetch_factor
    if getattr(loader, 'pin_memory_device', ''):
        kwargs['pin_memory_device'] = loader.pin_memory_device
    return DataLoader(_SeededDataset(loader.dataset), batch_sampler=batch_sampler, **kwargs)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` with an exact resume (see the module docstring).

    Args:
        runner (Runner): the runner.
        dataloader (DataLoader | dict): as for ``EpochBasedTrainLoop``.
        max_epochs (int): total training epochs.
        val_begin (int): the epoch validation starts at. Defaults to 1.
        val_interval (int): validation interval. Defaults to 1.
        dynamic_intervals (list[tuple[int, int]], optional): as for ``EpochBasedTrainLoop``.
        by_epoch (bool): accepted (True only) so that a ``train_cfg`` written for mmengine's
            default loop can name this type.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, dict], max_epochs: int,
                 val_begin: int = 1, val_interval: int = 1,
                 dynamic_intervals: Optional[Sequence[Tuple[int, int]]] = None,
                 by_epoch: bool = True) -> None:
        if by_epoch is not True:
            raise ValueError('ResumableEpochBasedTrainLoop: by_epoch must be True (it is an '
                             f'epoch-based loop), got {by_epoch!r}')
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval,
                         dynamic_intervals)
        loader = self.dataloader
        if isinstance(loader.dataset, IterableDataset):
            raise TypeError('ResumableEpochBasedTrainLoop: train_dataloader.dataset is an '
                            'IterableDataset; the loop needs an indexable dataset. Use '
                            "train_cfg=dict(by_epoch=True, ...) for mmengine's loop.")
        self._batch_sampler = _ResumableBatchSampler(loader.batch_sampler)
        self.dataloader = _rebuild(loader, self._batch_sampler)

    def run(self) -> torch.nn.Module:
        self._take_over_resume()
        return super().run()

    def _take_over_resume(self) -> None:
        """Called once the runner has resumed (or not): the sampler gets the run's seed (a
        resumed run with ``randomness.seed=None`` takes the checkpoint's), and the
        ``RNGStateHook`` restore (which would skip the consumed batches a second time, by
        loading them) is dropped: nothing here depends on a saved generator state."""
        sampler = self._batch_sampler.sampler
        seed = self.runner.seed
        if sampler is not None and isinstance(getattr(sampler, 'seed', None), int) \
                and isinstance(seed, int) and sampler.seed != seed:
            sampler.seed = seed
        for hook in getattr(self.runner, '_hooks', []):
            if type(hook).__name__ == 'RNGStateHook' and hasattr(hook, '_pending'):
                hook._pending = None

    def run_epoch(self) -> None:
        """One epoch, from the first batch not trained yet."""
        runner = self.runner
        skip = self._iter - self._epoch * len(self.dataloader)
        if not 0 <= skip < len(self.dataloader):
            skip = 0
        if skip:
            from mmengine.logging import print_log
            print_log(f'Resuming inside epoch {self._epoch + 1}: the sampler skips the '
                      f'{skip} batches already trained.', logger='current')
        seed = int(runner.seed) if isinstance(runner.seed, int) else 0
        rank = get_rank()
        self._batch_sampler.skip = skip
        self._batch_sampler.key = (seed, self._epoch, rank)
        runner.call_hook('before_train_epoch')
        runner.model.train()
        for idx, data_batch in enumerate(self.dataloader, start=skip):
            seed_everything_from(seed, 1 << 20, rank, self._iter)
            self.run_iter(idx, data_batch)
        runner.call_hook('after_train_epoch')
        self._epoch += 1
