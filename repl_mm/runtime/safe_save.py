"""Crash-safe checkpoint saving for every checkpoint mmengine's runner writes.

mmengine 0.10.7 writes a checkpoint in place (``open(path, 'wb')``), and its ``CheckpointHook``
deletes the oldest checkpoint (and ``save_best`` the previous best one) *before* writing the new
one, then rewrites ``last_checkpoint`` in place. A kill during a save with ``max_keep_ckpts=1``
leaves no complete checkpoint at all. After :func:`install_crash_safe_saving`:

* every local checkpoint (periodic, best, last, published) is written to a temporary file in the
  same directory, flushed and fsync'ed, then renamed over the target (``os.replace``, atomic on
  POSIX) and the directory fsync'ed: a reader sees the old file or the complete new one;
* ``last_checkpoint`` is replaced the same way, and only after its checkpoint is complete;
* old checkpoints (``max_keep_ckpts``, the previous best) are deleted only after the new
  checkpoint and ``last_checkpoint`` are complete.

Remote backends (``s3://`` ...) keep mmengine's single ``put`` (object stores publish an object
atomically). Installed by ``import repl_mm`` (:mod:`repl_mm.runtime`).
"""
import os
import os.path as osp
import uuid
from typing import Any, Callable, List, Optional

import torch
from mmengine.dist import is_main_process

from .mmengine_patch import check_source

__all__ = ['atomic_write', 'atomic_save_checkpoint', 'install_crash_safe_saving',
           'TMP_MARKER']

#: temporary files are named ``.<target name>.tmp-<pid>-<random>``
TMP_MARKER = '.tmp-'


def _sync(f: Any) -> None:
    """Flushes ``f`` and fsyncs its file descriptor (a seam for fault-injection tests)."""
    f.flush()
    os.fsync(f.fileno())


def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # e.g. a platform that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Writes a file so that ``path`` is never seen incomplete.

    Args:
        path (str): the target file; its directory is created if missing.
        write (callable): ``write(f)`` writes the content to the binary file object ``f``.
    """
    path = osp.abspath(osp.expanduser(str(path)))
    dirname = osp.dirname(path)
    os.makedirs(dirname, exist_ok=True)
    tmp = osp.join(dirname, f'.{osp.basename(path)}{TMP_MARKER}{os.getpid()}-'
                   f'{uuid.uuid4().hex[:8]}')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            _sync(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(dirname)
    _remove_stale_temporaries(dirname, osp.basename(path))


def _remove_stale_temporaries(dirname: str, name: str) -> None:
    """Deletes the temporary files of ``name`` left by saves that were killed (a complete
    ``name`` now exists, so they hold nothing that is not in it or older)."""
    prefix = f'.{name}{TMP_MARKER}'
    for entry in os.listdir(dirname):
        if entry.startswith(prefix):
            try:
                os.unlink(osp.join(dirname, entry))
            except OSError:
                pass


def atomic_write_text(path: str, text: str) -> None:
    """:func:`atomic_write` of a UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def _is_local(filename: str, file_client_args: Optional[dict],
              backend_args: Optional[dict]) -> bool:
    from mmengine.fileio import FileClient, get_file_backend
    from mmengine.fileio.backends import LocalBackend
    if file_client_args is not None:
        client = FileClient.infer_client(file_client_args, filename)
        return isinstance(client.client, LocalBackend)
    return isinstance(get_file_backend(filename, backend_args=backend_args), LocalBackend)


def atomic_save_checkpoint(checkpoint: dict, filename: str,
                           file_client_args: Optional[dict] = None,
                           backend_args: Optional[dict] = None) -> None:
    """``mmengine.runner.checkpoint.save_checkpoint`` with an atomic local write.

    Args:
        checkpoint (dict): what to save.
        filename (str): the target path (or URI).
        file_client_args (dict, optional): as for mmengine (deprecated there).
        backend_args (dict, optional): as for mmengine.
    """
    if filename.startswith('pavi://') or not _is_local(filename, file_client_args,
                                                       backend_args):
        return _ORIGINAL['save_checkpoint'](checkpoint, filename, file_client_args,
                                            backend_args)
    if file_client_args is not None and backend_args is not None:
        raise ValueError('"file_client_args" and "backend_args" cannot be set at the same '
                         'time.')
    try:
        atomic_write(filename, lambda f: torch.save(checkpoint, f))
    except (OSError, RuntimeError) as e:  # disk full, permission, a directory in the way
        from ..engine.fileio.save_errors import checkpoint_nbytes, describe_write_error
        raise describe_write_error(filename, e, checkpoint_nbytes(checkpoint)) from None


def _remove(backend: Any, path: str) -> None:
    if backend.isfile(path):
        backend.remove(path)
    elif backend.isdir(path):  # checkpoints saved by deepspeed are directories
        backend.rmtree(path)


def _save_checkpoint_with_step(self, runner, step, meta):
    """``CheckpointHook._save_checkpoint_with_step`` saving first, deleting last.

    Same bookkeeping as mmengine 0.10.7 (``keep_ckpt_ids`` in the message hub, ``last_ckpt``),
    but the checkpoint beyond ``max_keep_ckpts`` is deleted only after the new checkpoint and
    ``last_checkpoint`` are complete on disk, and ``last_checkpoint`` is replaced atomically.
    """
    outdated: List[str] = []
    if self.max_keep_ckpts > 0:
        # _save_checkpoint and _save_best_checkpoint may call this in one epoch
        if not (len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                old_step = self.keep_ckpt_ids.popleft()
                outdated.append(self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(old_step)))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir, ckpt_filename, self.file_client_args, save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
        backend_args=self.backend_args, **self.args)
    # model-parallel-like training pulls sharded states from all ranks; the rest is rank 0's
    if not is_main_process():
        return
    atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), str(self.last_ckpt))
    for path in outdated:
        if path != self.last_ckpt:
            _remove(self.file_backend, path)


class _DeferredRemoval:
    """A file backend stand-in that records ``remove``/``rmtree`` instead of doing them."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.pending: List[str] = []

    def remove(self, path: str) -> None:
        self.pending.append(path)

    def rmtree(self, path: str) -> None:
        self.pending.append(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def _wrap_save_best(original: Callable) -> Callable:

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """``CheckpointHook._save_best_checkpoint`` deleting the previous best checkpoint only
        after the new one (and the re-saved ``last_checkpoint``) are complete."""
        backend = self.file_backend
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            original(self, runner, metrics)
        finally:
            self.file_backend = backend
        # reached only when every save above completed; on an error nothing is deleted
        keep = {getattr(self, 'best_ckpt_path', None), getattr(self, 'last_ckpt', None)}
        keep.update((getattr(self, 'best_ckpt_path_dict', None) or {}).values())
        for path in deferred.pending:
            if path not in keep:
                _remove(backend, path)

    _save_best_checkpoint.__wrapped__ = original
    _save_best_checkpoint.__doc__ = original.__doc__
    return _save_best_checkpoint


_ORIGINAL: dict = {}


def is_installed() -> bool:
    """Whether :func:`install_crash_safe_saving` has patched mmengine."""
    return bool(_ORIGINAL)


def install_crash_safe_saving() -> None:
    """Patches mmengine 0.10.7 for crash-safe saving (see the module docstring); idempotent.

    Replaces ``save_checkpoint`` in ``mmengine.runner.checkpoint``, ``mmengine.runner.runner``
    (``Runner.save_checkpoint``) and ``mmengine.runner`` (``CheckpointHook._publish_model``),
    and ``CheckpointHook._save_checkpoint_with_step`` / ``_save_best_checkpoint``.

    Raises:
        RuntimeError: mmengine is not 0.10.7 or one of these functions is not 0.10.7's.
    """
    if _ORIGINAL:
        return
    import mmengine.runner as runner_pkg
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import checkpoint as ckpt_mod
    from mmengine.runner import runner as runner_mod
    check_source(ckpt_mod.save_checkpoint, 'save_checkpoint')
    check_source(CheckpointHook._save_checkpoint_with_step,
                 'CheckpointHook._save_checkpoint_with_step')
    check_source(CheckpointHook._save_best_checkpoint, 'CheckpointHook._save_best_checkpoint')
    _ORIGINAL['save_checkpoint'] = ckpt_mod.save_checkpoint
    _ORIGINAL['_save_checkpoint_with_step'] = CheckpointHook._save_checkpoint_with_step
    _ORIGINAL['_save_best_checkpoint'] = CheckpointHook._save_best_checkpoint
    for module in (ckpt_mod, runner_mod, runner_pkg):
        module.save_checkpoint = atomic_save_checkpoint
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step
    CheckpointHook._save_best_checkpoint = _wrap_save_best(_ORIGINAL['_save_best_checkpoint'])

