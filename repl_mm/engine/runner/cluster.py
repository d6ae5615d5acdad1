"""What ``tools/train.py`` adds for shared clusters (docs/training.md, "On a cluster").

* :func:`add_cluster_defaults`: ``PreemptionCheckpointHook`` and ``ModelFingerprintHook`` in
  ``custom_hooks`` when missing (an entry with ``enabled=False`` counts as present), and
  mmengine's epoch-based loop (``by_epoch=True`` or ``type='EpochBasedTrainLoop'``) replaced
  by ``ResumableEpochBasedTrainLoop`` (an exact mid-epoch resume), unless the config says
  ``exact_resume = False``;
* :func:`cluster_errors`: the errors a user causes (busy work dir, changed model, a checkpoint
  that cannot be written) end the process with one line and exit code 1 instead of a
  traceback;
* :func:`finish_distributed`: a finished multi-process run waits for every rank and destroys
  its process group before the interpreter exits (issue 23 item 7a: without it, a rank could
  die at exit with ``terminate called without an active exception``).
"""
import contextlib
import sys
from typing import Iterator, List

from mmengine.config import Config

__all__ = ['CLUSTER_HOOKS', 'add_cluster_defaults', 'cluster_errors', 'finish_distributed']

#: hook types :func:`add_cluster_defaults` puts into every training config
CLUSTER_HOOKS: List[str] = ['PreemptionCheckpointHook', 'ModelFingerprintHook']


def add_cluster_defaults(cfg: Config) -> List[str]:
    """Adds the cluster hooks and the resumable loop to a training config (in place).

    Returns:
        list[str]: what was added (hook types, then the loop type if swapped in).
    """
    from ..hooks import ModelFingerprintHook, PreemptionCheckpointHook  # noqa: F401 registered
    from ..loops import ResumableEpochBasedTrainLoop  # noqa: F401  registered
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {h.get('type') if isinstance(h, dict) else type(h).__name__ for h in hooks}
    present |= {t.__name__ for t in present if isinstance(t, type)}
    added = [name for name in CLUSTER_HOOKS if name not in present]
    hooks.extend(dict(type=name) for name in added)
    cfg.custom_hooks = hooks
    train_cfg = cfg.get('train_cfg', None)
    if isinstance(train_cfg, dict) and cfg.get('exact_resume', True) is not False:
        kind = train_cfg.get('type', None)
        if (kind is None and train_cfg.get('by_epoch', False)) or kind == 'EpochBasedTrainLoop':
            train_cfg.pop('by_epoch', None)
            train_cfg['type'] = 'ResumableEpochBasedTrainLoop'
            added.append('ResumableEpochBasedTrainLoop')
    return added


@contextlib.contextmanager
def cluster_errors(prog: str = 'train.py') -> Iterator[None]:
    """Turns a busy work dir, a changed model and a failed checkpoint write into one line on
    stderr and exit code 1."""
    from ..fileio.save_errors import CheckpointWriteError
    from ..hooks.model_fingerprint_hook import ModelChangedError
    from .workdir_lock import WorkDirBusyError
    try:
        yield
    except (WorkDirBusyError, ModelChangedError, CheckpointWriteError) as e:
        print(f'{prog}: {e}', file=sys.stderr,
              flush=True)
        sys.exit(1)


def finish_distributed() -> None:
    """Barrier, then ``destroy_process_group`` (a no-op without a process group)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
