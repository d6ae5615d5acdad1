"""Runner-side helpers: the work-dir lock and the cluster defaults of ``tools/train.py``."""
from .workdir_lock import WorkDirBusyError, WorkDirLock, acquire_workdir_lock

__all__ = ['WorkDirBusyError', 'WorkDirLock', 'acquire_workdir_lock']
