"""``SafeCheckpointHook``: mmengine's ``CheckpointHook`` that saves first and deletes last.

mmengine's ``CheckpointHook`` deletes the oldest checkpoint (``max_keep_ckpts``) and
``save_best`` the previous best one *before* writing the new one, and rewrites
``last_checkpoint`` in place: a kill during a save with ``max_keep_ckpts=1`` leaves no complete
checkpoint. This subclass (registered in mmengine's ``HOOKS``; set it with
``default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', ...))``, same arguments)

* writes every checkpoint -- periodic, best, published -- crash-safely (temporary file, fsync,
  atomic rename: :func:`~repl_mm.engine.runner.repl_runner.save_checkpoint_atomically`), with
  any runner;
* replaces ``last_checkpoint`` atomically, and only after its checkpoint is complete;
* deletes a checkpoint beyond ``max_keep_ckpts`` and the previous best checkpoint only after
  the new checkpoint and ``last_checkpoint`` are durable; if a save fails nothing is deleted.

The bookkeeping (``keep_ckpt_ids``, ``last_ckpt``, ``best_ckpt`` in the message hub) is
mmengine's, so resuming a run saved by either hook works with the other.
"""
import hashlib
import os.path as osp
import pickle
from typing import Any, List

from mmengine.dist import is_main_process, master_only
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from ..fileio.atomic import atomic_save_checkpoint, atomic_write_text, remove_path

__all__ = ['SafeCheckpointHook']


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


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose saves are crash-safe and whose rotation never deletes a
    checkpoint before the new one is durable (see the module docstring). Same arguments as
    ``CheckpointHook``."""

    def _save(self, runner, out_dir: str, filename: str, **kwargs) -> None:
        """``runner.save_checkpoint``, made atomic where the runner does not do it itself."""
        from ..runner.repl_runner import ReplRunner, save_checkpoint_atomically
        if isinstance(runner, _AtomicSaves):
            runner = runner._runner
        if isinstance(runner, ReplRunner):
            runner.save_checkpoint(out_dir, filename, **kwargs)
            return
        file_client_args = kwargs.pop('file_client_args', None)
        save_checkpoint_atomically(runner.save_checkpoint, out_dir, filename,
                                   file_client_args, **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta):
        """mmengine's bookkeeping, but the checkpoint beyond ``max_keep_ckpts`` is deleted only
        after the new checkpoint and ``last_checkpoint`` are complete on disk, and
        ``last_checkpoint`` is replaced atomically."""
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
        self._save(runner, self.out_dir, ckpt_filename, file_client_args=self.file_client_args,
                   save_optimizer=self.save_optimizer,
                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                   by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        # model-parallel-like training pulls sharded states from all ranks; the rest is rank 0's
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), str(self.last_ckpt))
        for path in outdated:
            if path != self.last_ckpt:
                remove_path(self.file_backend, path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's ``_save_best_checkpoint`` (it calls ``runner.save_checkpoint``, routed
        through :meth:`_save` by a runner stand-in) deleting the previous best checkpoint only
        after the new one and the re-saved ``last_checkpoint`` are complete."""
        backend = self.file_backend
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(_AtomicSaves(runner, self), metrics)
        finally:
            self.file_backend = backend
        # reached only when every save above completed; on an error nothing is deleted
        keep = {getattr(self, 'best_ckpt_path', None), getattr(self, 'last_ckpt', None)}
        keep.update((getattr(self, 'best_ckpt_path_dict', None) or {}).values())
        for path in deferred.pending:
            if path not in keep:
                remove_path(backend, path)

    @master_only
    def _publish_model(self, runner, ckpt_path: str) -> None:
        """mmengine's ``_publish_model`` (``published_keys`` only, ``-<sha256[:8]>.pth``) with
        a safe load and an atomic save."""
        from mmengine.runner.checkpoint import _load_checkpoint
        checkpoint = _load_checkpoint(ckpt_path)
        assert self.published_keys is not None
        removed_keys = [key for key in list(checkpoint) if key not in self.published_keys]
        for key in removed_keys:
            checkpoint.pop(key)
        if removed_keys:
            print_log(f'Key {removed_keys} will be removed because they are not found in '
                      f'published_keys. If you want to keep them, please set `{removed_keys}` '
                      'in published_keys', logger='current')
        sha = hashlib.sha256(pickle.dumps(checkpoint)).hexdigest()
        final_path = osp.splitext(ckpt_path)[0] + f'-{sha[:8]}.pth'
        atomic_save_checkpoint(checkpoint, final_path)
        print_log(f'The checkpoint ({ckpt_path}) is published to {final_path}.',
                  logger='current')


class _AtomicSaves:
    """The runner as mmengine's ``_save_best_checkpoint`` sees it: ``save_checkpoint`` goes
    through :meth:`SafeCheckpointHook._save`; everything else is the runner's."""

    def __init__(self, runner: Any, hook: SafeCheckpointHook) -> None:
        self._runner = runner
        self._hook = hook

    def save_checkpoint(self, out_dir: str, filename: str, **kwargs) -> None:
        self._hook._save(self._runner, out_dir, filename, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)
