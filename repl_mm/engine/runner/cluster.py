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
  its process group before the interpreter exits;
* :func:`run_to_the_end`: the body of ``tools/train.py`` / ``tools/test.py`` under
  :func:`cluster_errors`, then :func:`finish_distributed` once every frame of the run is gone.

Why both (issue 23 item 7a, seen again in CI: rank 1 of a finished 2-process run died with
``terminate called without an active exception``, exit -6): ``destroy_process_group`` only
unregisters the group. The runner, its ``MMDistributedDataParallel`` wrapper and the reducer
inside still hold the C++ ``ProcessGroupGloo``, and they sit in reference cycles (hooks and
loops point back at the runner), so the group and its threads (``gloo_tcp_loop``, two
``pt_gloo_runloop``, listed in ``/proc/self/task``) lived on into the interpreter's teardown,
where C++ destroys statics while those threads still run. Collecting the cycles once the run's
frames are gone destroys the group there and then: its destructor joins the threads, and a
process exits with no gloo thread left (tests/engine/test_cluster_exit.py).
"""
import contextlib
import sys
import traceback
from typing import Any, Callable, Iterator, List

from mmengine.config import Config

from ...utils.dist_teardown import finish_distributed

__all__ = ['CLUSTER_HOOKS', 'add_cluster_defaults', 'cluster_errors', 'finish_distributed',
           'run_to_the_end']

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


def run_to_the_end(main: Callable[[], Any], prog: str = 'train.py') -> None:
    """Runs ``main`` under :func:`cluster_errors` and ends the process group afterwards, from a
    frame that no longer holds the run (an exception's traceback would keep the runner and
    with it the group alive).

    A finished run waits for every rank (barrier); a run that stopped with ``SystemExit`` (the
    one-line user errors, a preemption checkpoint's exit code) or an exception (its traceback
    is printed) ends the group without waiting, then exits with the same code (1 for an
    exception). ``KeyboardInterrupt`` propagates unchanged.
    """
    code: Any = None
    stopped = False
    try:
        with cluster_errors(prog):
            main()
    except SystemExit as e:
        stopped, code = True, e.code
    except Exception:  # noqa: BLE001  printed as the interpreter would, then exit 1
        traceback.print_exc()
        sys.stderr.flush()
        stopped, code = True, 1
    finish_distributed(wait=not stopped)
    if stopped:
        sys.exit(code)
