"""``ReplRunner``: mmengine's ``Runner`` that never loses work, chosen with
``runner_type='ReplRunner'``.

Registered in mmengine's ``RUNNERS`` (the mmdet, mmseg and mmpretrain ``RUNNERS`` registries
fall back to it, so their ``tools/train.py`` build it from ``runner_type``). Against mmengine's
``Runner`` it

* loads ``resume`` / ``load_from`` checkpoints weights-only with the allowlist of what mmengine
  saves, for every scheme (:mod:`repl_mm.engine.fileio.loaders`; re-registered before a load if
  another package replaced a scheme since), and refuses a file holding any other pickled
  object (:class:`~repl_mm.engine.fileio.UnsafeCheckpointError`), also where
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set or mmengine would fall back to unsafe loading;
* auto-resumes (``resume=True`` without ``load_from``) from the newest checkpoint that loads
  (:func:`~repl_mm.engine.runner.resume.find_resume_checkpoint`), never training over
  checkpoints that exist but do not load;
* saves every checkpoint crash-safely (:func:`save_checkpoint_atomically`: mmengine's
  ``Runner.save_checkpoint`` writes a temporary file in the target directory, which is fsync'ed
  and renamed over the target, and the directory fsync'ed);
* makes the checkpoint hook :class:`~repl_mm.engine.hooks.checkpoint_hook.SafeCheckpointHook`
  (a config's ``CheckpointHook`` keeps its arguments; rotation deletes only after the new
  checkpoint and ``last_checkpoint`` are durable) and adds ``NonFiniteLossHook`` and
  ``RNGStateHook`` where ``custom_hooks`` lacks them (turn one off with
  ``dict(type=..., enabled=False)``).

Everything else is mmengine's ``Runner``.
"""
import inspect
import os
import os.path as osp
from typing import Any, Callable, Optional

from mmengine.dist import is_main_process, master_only
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..fileio.atomic import is_local, publish_temporary, temporary_name
from ..fileio.loaders import register_safe_schemes, safe_schemes_registered
from ..hooks.defaults import add_default_hooks, use_safe_checkpoint_hook
from .resume import find_resume_checkpoint

__all__ = ['ReplRunner', 'save_checkpoint_atomically']


def save_checkpoint_atomically(save: Callable[..., Any], out_dir: str, filename: str,
                               file_client_args: Optional[dict] = None,
                               backend_args: Optional[dict] = None, **kwargs) -> None:
    """Runs a runner's ``save_checkpoint`` so that ``out_dir/filename`` is written atomically.

    ``save`` (e.g. ``runner.save_checkpoint``, or mmengine's ``Runner.save_checkpoint`` bound
    to a runner) writes the checkpoint under a temporary name in the same directory; the file is
    then fsync'ed, renamed over the target and the directory fsync'ed
    (:func:`~repl_mm.engine.fileio.atomic.publish_temporary`). A kill at any point leaves the
    previous file (or none) and at most a temporary file, never a partial checkpoint under the
    target name. Remote ``out_dir`` (``s3://``, ``pavi://`` ...) is written by ``save`` as is
    (object stores publish an object atomically).

    Args:
        save (callable): ``save(out_dir, filename, file_client_args, backend_args=..., **kw)``.
        out_dir (str): the checkpoint directory.
        filename (str): the checkpoint name (may contain a sub-directory).
        file_client_args, backend_args (dict, optional): as for mmengine.
        **kwargs: passed to ``save`` (``save_optimizer``, ``meta``, ``by_epoch``, ...).
    """
    if str(out_dir).startswith('pavi://') or not is_local(out_dir, file_client_args,
                                                           backend_args):
        save(out_dir, filename, file_client_args, backend_args=backend_args, **kwargs)
        return
    sub, name = osp.split(filename)
    tmp_name = osp.join(sub, temporary_name(name))
    tmp, target = osp.join(out_dir, tmp_name), osp.join(out_dir, filename)
    try:
        save(out_dir, tmp_name, file_client_args, backend_args=backend_args, **kwargs)
    except (OSError, RuntimeError) as e:  # disk full, permission, a directory in the way
        _discard(tmp)
        raise _write_error(save, target, e) from None
    if not is_main_process():
        return  # mmengine's save_checkpoint is master_only: other ranks wrote nothing
    if not osp.isfile(tmp):
        raise RuntimeError(
            f'{type(save).__qualname__} did not write the checkpoint {tmp} it was asked for, so '
            f'{target} cannot be published atomically. Use runner_type=\'ReplRunner\' or a '
            'runner whose save_checkpoint writes <out_dir>/<filename>.')
    try:
        publish_temporary(tmp, target)
    except OSError as e:
        _discard(tmp)
        raise _write_error(save, target, e) from None


def _discard(path: str) -> None:
    try:
        if osp.isfile(path):
            os.remove(path)
    except OSError:
        pass


def _write_error(save: Callable[..., Any], target: str, err: BaseException) -> Exception:
    """The one-line :class:`~repl_mm.engine.fileio.save_errors.CheckpointWriteError` for a
    failed save (path, free space, about the size needed), logged by ``describe_write_error``."""
    from ..fileio.save_errors import checkpoint_nbytes, describe_write_error
    runner = getattr(save, '__self__', None)
    needed = None
    try:
        if runner is not None:
            needed = checkpoint_nbytes(runner.model.state_dict())
            wrapper = getattr(runner, 'optim_wrapper', None)
            if wrapper is not None and hasattr(wrapper, 'state_dict'):
                needed += checkpoint_nbytes(wrapper.state_dict())
    except Exception:  # the size is a hint only
        needed = None
    return describe_write_error(target, err, needed)


@RUNNERS.register_module()
class ReplRunner(Runner):
    """mmengine's ``Runner`` with safe loading, auto-resume fallback, crash-safe saving and
    repl-mm's hooks (see the module docstring). Same arguments as ``Runner``."""

    def __init__(self, *args, **kwargs) -> None:
        bound = inspect.signature(Runner.__init__).bind(self, *args, **kwargs)
        arguments = bound.arguments
        arguments['default_hooks'] = use_safe_checkpoint_hook(arguments.get('default_hooks'))
        from mmengine.config import Config
        hooks = Config(dict(custom_hooks=list(arguments.get('custom_hooks') or [])))
        self._repl_added_hooks = add_default_hooks(hooks)
        arguments['custom_hooks'] = list(hooks.custom_hooks)
        super().__init__(*bound.args[1:], **bound.kwargs)
        if self._repl_added_hooks:
            self.logger.info(f'ReplRunner added {self._repl_added_hooks} to custom_hooks.')

    # -- loading ----------------------------------------------------------------------------
    def load_checkpoint(self, filename: str, map_location: Any = 'cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):  # noqa: B006 mmengine's default
        """mmengine's ``Runner.load_checkpoint`` through the safe loaders (registered again
        first if another package replaced one of their schemes since)."""
        if not safe_schemes_registered():
            register_safe_schemes()
        return super().load_checkpoint(filename, map_location=map_location, strict=strict,
                                       revise_keys=revise_keys)

    def load_or_resume(self) -> None:
        """mmengine's ``Runner.load_or_resume``, auto-resuming from the newest loadable
        checkpoint (:func:`~repl_mm.engine.runner.resume.find_resume_checkpoint`)."""
        if self._has_loaded:
            return None
        resume_from = None
        if self._resume and self._load_from is None:
            resume_from = find_resume_checkpoint(self.work_dir)
        elif self._resume and self._load_from is not None:
            resume_from = self._load_from
        if resume_from is not None:
            self.resume(resume_from)
            self._has_loaded = True
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
            self._has_loaded = True

    # -- saving -----------------------------------------------------------------------------
    @master_only
    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args: Optional[dict] = None, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, meta: Optional[dict] = None,
                        by_epoch: bool = True, backend_args: Optional[dict] = None) -> None:
        """mmengine's ``Runner.save_checkpoint``, written crash-safely
        (:func:`save_checkpoint_atomically`)."""
        save_checkpoint_atomically(
            super().save_checkpoint, out_dir, filename, file_client_args,
            backend_args=backend_args, save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler, meta=meta, by_epoch=by_epoch)
