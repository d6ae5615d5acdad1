"""Safe checkpoint loading for every mmengine load: resume, ``load_from``, ``Pretrained``.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the few Python objects
that mmengine 0.10.7 writes into its checkpoints next to the tensors, so ``--resume`` fails with
``Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer``. The easy "fix",
``weights_only=False``, would run whatever a downloaded ``.pth`` file pickles. Instead this module

* allowlists exactly the classes mmengine's ``Runner.save_checkpoint`` writes (see
  :data:`MMENGINE_SAFE_GLOBALS`; found with ``torch.serialization.get_unsafe_globals_in_checkpoint``
  on checkpoints of the mmdet, mmseg and mmpretrain runners), and
* patches :class:`mmengine.runner.CheckpointLoader` -- the one function every mmengine load goes
  through -- so that each scheme loads with ``weights_only=True`` under that allowlist, and a file
  holding any other pickled object is refused with :class:`UnsafeCheckpointError` before any of
  its code can run.

:func:`install_safe_checkpoint_loading` does the patching; importing :mod:`repl_mm.runtime` calls
it. A user who trusts a file holding other objects can allowlist them with
``torch.serialization.add_safe_globals`` before loading; nothing here falls back to unsafe loading.
"""
import collections
import pickle
from typing import Any, Callable, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError', 'CorruptCheckpointError',
           'safe_globals', 'safe_torch_load', 'install_safe_checkpoint_loading', 'is_installed']


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a pickled object outside the allowlist; it was not loaded."""


class CorruptCheckpointError(RuntimeError):
    """A local checkpoint file cannot be read (truncated, corrupted, not a checkpoint)."""


def _numpy_globals() -> List[Any]:
    """The numpy globals that pickled arrays, dtypes and scalars reference.

    numpy 1.x pickles arrays as ``numpy.core.multiarray._reconstruct``; numpy 2.x as
    ``numpy._core.multiarray._reconstruct``; both are listed under the name each writes. Since
    numpy 1.25 a dtype is pickled as its class ``numpy.dtypes.Float64DType`` etc.
    """
    found: List[Any] = [np.ndarray, np.dtype]
    for module_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            module = __import__(module_name, fromlist=['_reconstruct'])
        except ImportError:
            continue
        for fn_name in ('_reconstruct', 'scalar'):
            fn = getattr(module, fn_name, None)
            if fn is not None:
                found.append((fn, f'{module_name}.{fn_name}'))
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            cls = getattr(dtypes, name)
            if isinstance(cls, type) and issubclass(cls, np.dtype):
                found.append(cls)
    return found


# registered by every HistoryBuffer (``_set_default_statistics``)
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_method(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling, for one purpose only.

    ``HistoryBuffer.__getstate__`` stores its statistics methods (``HistoryBuffer.min`` ...),
    which pickle protocol 2 writes as ``getattr(HistoryBuffer, 'min')``. A general ``getattr``
    would let a file reach any attribute of any allowlisted object, so only the statistics
    methods registered on :class:`HistoryBuffer` are handed out.
    """
    if obj is HistoryBuffer and isinstance(name, str) \
            and name in _HISTORY_BUFFER_STATISTICS + tuple(HistoryBuffer._statistics_methods):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL builtins.getattr called as getattr({obj!r}, {name!r}); '
        'only getattr(HistoryBuffer, <statistics method>) is allowed')


def _mmengine_globals() -> List[Any]:
    # HistoryBuffer: MessageHub.state_dict()['log_scalars'] values (two numpy arrays, an int
    # and its statistics methods, pickled through getattr).
    return [HistoryBuffer, (_history_buffer_method, 'builtins.getattr')]


def _builtin_globals() -> List[Any]:
    # OrderedDict: state_dict containers and MessageHub.state_dict() (torch allows it already;
    # listed for clarity).
    return [collections.OrderedDict]


#: Everything besides tensors that mmengine 0.10.7's ``Runner.save_checkpoint`` writes.
MMENGINE_SAFE_GLOBALS: List[Any] = _builtin_globals() + _numpy_globals() + _mmengine_globals()


def safe_globals():
    """Context manager allowlisting :data:`MMENGINE_SAFE_GLOBALS` for ``weights_only`` loads."""
    return torch.serialization.safe_globals(list(MMENGINE_SAFE_GLOBALS))


_REASON_MARKERS = ('GLOBAL', 'reduce for', 'Can only', 'Unsupported', 'getattr')


def _reason(err: BaseException) -> str:
    """The line of torch's weights-only error that names the refused object."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if any(marker in line for marker in _REASON_MARKERS):
            return line
    return lines[-1] if lines else type(err).__name__


def _refusal(filename: Any, err: BaseException) -> UnsafeCheckpointError:
    detail = _reason(err)
    return UnsafeCheckpointError(
        f'Refused to load checkpoint {filename!s}: it contains a pickled object that is neither '
        f'a tensor nor mmengine training state ({detail}). Loading it would run code chosen by '
        f"whoever made the file, so it was not loaded and none of its code ran. repl_mm loads "
        f'checkpoints with torch.load(weights_only=True) and an allowlist of the classes '
        f'mmengine saves (repl_mm.runtime.checkpoint.MMENGINE_SAFE_GLOBALS). If you made this '
        f'file yourself and trust it, allowlist its classes with '
        f'torch.serialization.add_safe_globals([...]) before loading.')


def safe_torch_load(f: Any, map_location: Any = None, filename: Optional[str] = None) -> Any:
    """``torch.load(f, weights_only=True)`` under the mmengine allowlist.

    Args:
        f: a path or a readable binary file object.
        map_location: as for :func:`torch.load`.
        filename (str, optional): the name to report in errors (defaults to ``f``).

    Raises:
        UnsafeCheckpointError: the file pickles an object outside the allowlist.
    """
    try:
        with safe_globals():
            return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise _refusal(filename if filename is not None else f, e) from None


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """Replacement for mmengine's local-file scheme (``CheckpointLoader`` prefix ``''``)."""
    import os.path as osp
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return safe_torch_load(filename, map_location, filename)
    except UnsafeCheckpointError:
        raise
    except (RuntimeError, EOFError, OSError, ValueError) as e:  # truncated / not a checkpoint
        raise CorruptCheckpointError(
            f'checkpoint {filename} cannot be read ({type(e).__name__}: {str(e).strip()[:300]}); '
            'it is truncated or corrupted, or not a PyTorch checkpoint: copy it again or pass '
            'another file') from None


def _load_url(url: str, model_dir: Optional[str] = None, map_location: Any = None,
              progress: bool = True, **kwargs) -> Any:
    """``torch.hub.load_state_dict_from_url`` with ``weights_only=True`` (its default is False)."""
    try:
        with safe_globals():
            return torch.hub.load_state_dict_from_url(
                url, model_dir=model_dir, map_location=map_location, progress=progress,
                weights_only=True, **kwargs)
    except pickle.UnpicklingError as e:
        raise _refusal(url, e) from None


_INSTALLED = False


def is_installed() -> bool:
    """Whether :func:`install_safe_checkpoint_loading` has patched mmengine."""
    return _INSTALLED


def install_safe_checkpoint_loading() -> None:
    """Makes every mmengine checkpoint load safe; idempotent.

    * the local-file scheme (``resume``, ``load_from``, ``Pretrained`` with a path) loads
      through :func:`safe_torch_load`;
    * the URL download used by the ``http(s)://``, ``torchvision://``, ``open-mmlab://`` and
      ``mmcls://`` schemes (``mmengine.runner.checkpoint.load_url``, which calls
      ``torch.hub.load_state_dict_from_url`` with ``weights_only=False``) loads with
      ``weights_only=True``;
    * ``CheckpointLoader.load_checkpoint`` runs every scheme under the allowlist and turns a
      weights-only refusal of any scheme into :class:`UnsafeCheckpointError`.
    """
    global _INSTALLED
    if _INSTALLED:
        return
    from mmengine.runner import checkpoint as ckpt_mod
    CheckpointLoader = ckpt_mod.CheckpointLoader

    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    ckpt_mod.load_from_local = load_from_local
    ckpt_mod.load_url = _load_url

    original: Callable = CheckpointLoader.load_checkpoint.__func__

    def load_checkpoint(cls, filename, map_location=None, logger='current'):
        try:
            with safe_globals():
                return original(cls, filename, map_location, logger)
        except pickle.UnpicklingError as e:
            raise _refusal(filename, e) from None

    load_checkpoint.__doc__ = original.__doc__
    load_checkpoint.__wrapped__ = original
    CheckpointLoader.load_checkpoint = classmethod(load_checkpoint)
    _INSTALLED = True
