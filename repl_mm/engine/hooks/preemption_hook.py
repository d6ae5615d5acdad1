"""Checkpoint on preemption: SIGTERM / SIGUSR1 -> one crash-safe checkpoint at the next
iteration boundary, then a documented exit code.

Clusters stop a job with SIGTERM (slurm at the time limit or on preemption, Kubernetes on
eviction), optionally after an early signal (``sbatch --signal=B:USR1@120``), then SIGKILL.
mmengine has no signal handler: a signalled run dies where it is and loses everything after its
last periodic checkpoint.

:class:`PreemptionCheckpointHook` installs a handler (in every rank) that only records the
signal. After every training iteration (and epoch) the ranks agree through one ``all_reduce``
(a signal to one rank stops all of them), save one checkpoint through the crash-safe path
(:mod:`repl_mm.engine.fileio.atomic`: temporary file, fsync, rename), point ``last_checkpoint`` at
it, log one line::

    preempted at epoch E iteration I: saved PATH; resume with --resume

and exit with ``128 + signal number`` by
default (143 for SIGTERM, 138 for SIGUSR1: what a shell reports for a process the signal
ended), or the ``exit_code`` given. A second signal while the checkpoint is written is only
recorded (the handler never interrupts the write), and a SIGKILL during it leaves the previous
newest checkpoint and ``last_checkpoint`` as they were. Work lost: at most the iteration in
flight.

Add it to any mmengine config in one line::

    custom_hooks = [dict(type='PreemptionCheckpointHook')]
"""
import logging
import os
import os.path as osp
import signal
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

__all__ = ['PreemptionCheckpointHook', 'STATUS_FILE_ENV', 'EXIT_CODE_ENV',
           'preempt_exit_code']

#: the launchers (tools/dist_train.sh ...) name a file here; rank 0 writes its final line and
#: exit code into it, so the launcher can end with that line rather than torchrun's report
STATUS_FILE_ENV = 'REPL_MM_PREEMPT_STATUS_FILE'
#: set by the launchers: the code the worker processes exit with after a preemption save
#: (0 under torchrun, so that torchrun ends quietly; the launcher exits with the real code)
EXIT_CODE_ENV = 'REPL_MM_PREEMPT_EXIT_CODE'

_SIGNALS = ('SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGINT', 'SIGHUP', 'SIGCONT')


def preempt_exit_code(signum: int, exit_code: Optional[int] = None) -> int:
    """The documented exit code of a run stopped by ``signum`` after its checkpoint:
    ``exit_code`` if given, else ``128 + signum`` (143 for SIGTERM, 138 for SIGUSR1)."""
    return int(exit_code) if exit_code is not None else 128 + int(signum)


def _signal_numbers(signals: Union[str, Sequence[str]]) -> List[int]:
    if isinstance(signals, str):
        signals = [signals]
    numbers = []
    for name in signals:
        key = name.upper() if isinstance(name, str) else name
        if isinstance(key, str) and not key.startswith('SIG'):
            key = 'SIG' + key
        if key not in _SIGNALS:
            raise ValueError(f'PreemptionCheckpointHook: signals must be names among '
                             f'{list(_SIGNALS)}, got {name!r}')
        numbers.append(int(getattr(signal, key)))
    return numbers


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Saves one checkpoint and stops when the job is signalled (see the module docstring).

    Args:
        signals (str | list[str]): the signals that mean "stop now and keep the work".
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
        exit_code (int, optional): the process's exit code after the save. Defaults to None:
            ``128 + signal number``. The environment variable ``REPL_MM_PREEMPT_EXIT_CODE``
            (set by the repository's launchers) takes precedence.
        filename_tmpl (str): the checkpoint's name in the work dir; ``{}`` is the number of
            iterations done. Defaults to ``'iter_{}.pth'`` (the names ``--resume`` falls back
            to).
        check_interval (int): agree across ranks every this many iterations (one tiny
            ``all_reduce``). Defaults to 1.
        enabled (bool): Defaults to True.
    """

    priority = 'LOWEST'  # after the logger, the schedulers and the CheckpointHook

    def __init__(self, signals: Union[str, Sequence[str]] = ('SIGTERM', 'SIGUSR1'),
                 exit_code: Optional[int] = None, filename_tmpl: str = 'iter_{}.pth',
                 check_interval: int = 1, enabled: bool = True) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f'PreemptionCheckpointHook: enabled must be True or False, got '
                            f'{enabled!r}')
        if exit_code is not None and (not isinstance(exit_code, int) or
                                      not 0 <= exit_code <= 255):
            raise ValueError(f'PreemptionCheckpointHook: exit_code must be None or an int in '
                             f'0..255, got {exit_code!r}')
        if not isinstance(check_interval, int) or check_interval < 1:
            raise ValueError(f'PreemptionCheckpointHook: check_interval must be an int >= 1, '
                             f'got {check_interval!r}')
        if '{}' not in filename_tmpl:
            raise ValueError(f"PreemptionCheckpointHook: filename_tmpl must contain '{{}}', "
                             f'got {filename_tmpl!r}')
        self.signals = _signal_numbers(signals)
        self.exit_code = exit_code
        self.filename_tmpl = filename_tmpl
        self.check_interval = check_interval
        self.enabled = enabled
        self.received: Optional[int] = None   # the first signal caught
        self.count = 0                        # how many were caught
        self._previous: Dict[int, Any] = {}

    # -- signals --------------------------------------------------------------------------
    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        # only records: never interrupts a save, a second signal changes nothing
        self.count += 1
        if self.received is None:
            self.received = signum

    def before_train(self, runner) -> None:
        if not self.enabled:
            return
        for signum in self.signals:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: nothing to install
                print_log('PreemptionCheckpointHook: not in the main thread, no signal '
                          'handler installed.', logger='current', level=logging.WARNING)
                return

    def after_train(self, runner) -> None:
        self._restore_handlers()

    def _restore_handlers(self) -> None:
        for signum, previous in self._previous.items():
            try:
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, TypeError):
                pass
        self._previous = {}

    # -- agreement ------------------------------------------------------------------------
    def _agreed_signal(self) -> int:
        """The signal any rank received (0: none); a collective on every rank."""
        flag = torch.tensor([self.received or 0], dtype=torch.int64)
        if get_world_size() > 1:
            all_reduce(flag, op='max')
        return int(flag.item())

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        if not self.enabled or (runner.iter + 1) % self.check_interval:
            return
        signum = self._agreed_signal()
        if signum:
            # mid-epoch: `runner.epoch` epochs complete, `runner.iter + 1` iterations done
            self._stop(runner, signum, epoch=runner.epoch, iters=runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if not self.enabled:
            return
        signum = self._agreed_signal()
        if signum:  # the epoch is complete (the loop increments its counter after this)
            self._stop(runner, signum, epoch=runner.epoch + 1, iters=runner.iter)

    # -- the save and the exit ------------------------------------------------------------
    def _stop(self, runner, signum: int, epoch: int, iters: int) -> None:
        from repl_mm.engine.fileio.atomic import atomic_write_text
        name = self.filename_tmpl.format(iters)
        path = osp.join(runner.work_dir, name)
        runner.save_checkpoint(runner.work_dir, name, meta=dict(epoch=epoch, iter=iters),
                               save_optimizer=True, save_param_scheduler=True)
        if is_main_process():
            atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), path)
        code = preempt_exit_code(signum, self.exit_code)
        signame = signal.Signals(signum).name
        line = (f'preempted at epoch {epoch} iteration {iters}: saved {path}; '
                f'resume with --resume')
        if get_rank() == 0:
            print_log(f'{signame}: {line} (exit code {code})', logger='current')
            status = os.environ.get(STATUS_FILE_ENV)
            if status:
                try:
                    with open(status, 'w') as f:
                        f.write(f'{code}\n{line}\n')
                except OSError:
                    pass
        self._restore_handlers()
        worker_code = os.environ.get(EXIT_CODE_ENV)
        _finish_distributed()
        raise SystemExit(int(worker_code) if worker_code not in (None, '') else code)


def _finish_distributed() -> None:
    """All ranks wait for rank 0's save, then the process group ends (a clean exit; the
    group's C++ object goes with the runner once ``run_to_the_end`` has it collected)."""
    from ...utils.dist_teardown import finish_distributed
    finish_distributed()
