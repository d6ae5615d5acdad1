"""The options of a benchmark run (:func:`repl_mm.analysis.benchmark.run_benchmark`)."""
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .timing import (
    resolve_clock,
)

__all__ = ['BenchmarkOptions']


@dataclass
class BenchmarkOptions:
    """Options of :func:`run_benchmark`.

    Args:
        batch_size (int): training batch.
        device (str): ``'cpu'`` or ``'cuda'``.
        reps (int), warmup (int): timed and warm-up repetitions of the interleaved timers.
        scopes (Sequence[str]): ``'backbone'`` (where RepL acts) and/or ``'model'`` (the whole
            classifier / detector / segmentor, with its loss).
        compat (bool): also measure RepL and E2E with activation checkpointing
            (``with_cp=True``) and with stochastic depth (``drop_path_rate``) (Table IX).
        drop_path_rate (float): the stochastic-depth rate of the compat runs.
        inference (bool): measure inference latency of E2E, dynamic RepL and deploy RepL
            (Tables XI-XII).
        infer_batch_sizes (Sequence[int], optional): inference batches (default: batch_size).
        channels_last (bool), compile (bool): inference backends applied to every model.
        amp (bool): also time E2E and deploy RepL inference under autocast (fp16 / bf16 where
            the device supports it; bf16 on CPU), beside fp32 (Tables XI-XII "AMP" rows).
        train_time (bool): time training steps and inference (False: counts only).
        training (bool): measure training at all (False: inference only).
        clock (str): ``'auto'`` (CPU time of the process on a CPU device, wall time with
            synchronisation on CUDA), ``'wall'`` or ``'cpu'`` (:func:`resolve_clock`).
        seed (int): RNG seed of weights and data.
    """
    batch_size: int = 2
    device: str = 'cpu'
    reps: int = 10
    warmup: int = 2
    scopes: Sequence[str] = ('backbone', 'model')
    compat: bool = False
    drop_path_rate: float = 0.1
    inference: bool = True
    infer_batch_sizes: Optional[Sequence[int]] = None
    channels_last: bool = False
    compile: bool = False
    amp: bool = False
    train_time: bool = True
    training: bool = True
    clock: str = 'auto'
    seed: int = 0

    def check(self) -> None:
        for name in ('batch_size', 'reps'):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f'{name} must be an int >= 1, got {v!r}')
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f'warmup must be an int >= 0, got {self.warmup!r}')
        bad = [s for s in self.scopes if s not in ('backbone', 'model')]
        if bad or not self.scopes:
            raise ValueError(f"scopes must be a non-empty subset of ('backbone', 'model'), "
                             f'got {self.scopes!r}')
        try:
            kind = torch.device(self.device).type
        except RuntimeError:
            kind = None
        if kind not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        resolve_clock(self.clock, self.device)
