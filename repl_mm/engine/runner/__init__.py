"""The runner and what the tools build it with.

* :mod:`.repl_runner`: ``ReplRunner`` (registered in ``RUNNERS``);
* :mod:`.resume`: the checkpoint auto-resume starts from;
* :mod:`.build`: ``tools/train.py`` / ``tools/test.py`` config loading, CLI merging,
  ``build_runner``; :mod:`.scope`: the toolbox of a config; :mod:`.dist`: torchrun / slurm
  multi-process runs; :mod:`.config_checks`: unknown ``--cfg-options`` keys, SyncBN on CPU
  (these are imported where used, not here); :mod:`.workdir_lock`: one run per work dir;
  :mod:`.cluster`: the cluster defaults and errors of ``tools/train.py``.
"""
from .repl_runner import ReplRunner, save_checkpoint_atomically
from .resume import NoLoadableCheckpointError, find_resume_checkpoint
from .workdir_lock import WorkDirBusyError, WorkDirLock, acquire_workdir_lock

__all__ = ['ReplRunner', 'save_checkpoint_atomically', 'NoLoadableCheckpointError',
           'find_resume_checkpoint', 'WorkDirBusyError', 'WorkDirLock', 'acquire_workdir_lock']
