"""Safe (``weights_only``) checkpoint loading: the loader behind every scheme of
:mod:`repl_mm.engine.fileio.loaders`.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the few Python objects
that mmengine writes into its checkpoints next to the tensors, so ``--resume`` fails with
``Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer``. The easy "fix",
``weights_only=False``, would run whatever a downloaded ``.pth`` file pickles (and is what
onedl-mmengine falls back to, with a warning). Instead :func:`safe_torch_load`

* loads with ``weights_only=True`` passed explicitly (so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
  cannot turn it off) under an allowlist of exactly the classes mmengine's
  ``Runner.save_checkpoint`` writes (:data:`MMENGINE_SAFE_GLOBALS`; found with
  ``torch.serialization.get_unsafe_globals_in_checkpoint`` on checkpoints of the mmdet, mmseg
  and mmpretrain runners), registered with torch only for the duration of the load
  (:func:`safe_globals`);
* refuses a file holding any other pickled object with :class:`UnsafeCheckpointError` before
  any of its code can run, and a file that is no checkpoint at all (HTML, a Git LFS pointer,
  truncated) with :class:`NotACheckpointError`.

Nothing here is installed into mmengine or torch at import. A user who trusts a file holding
other objects can allowlist them with ``torch.serialization.add_safe_globals`` before loading;
nothing here falls back to unsafe loading.
"""
import collections
import contextlib
import os
import pickle
import re
import threading
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError', 'NotACheckpointError',
           'CorruptCheckpointError', 'describe_non_checkpoint', 'safe_globals', 'safe_torch_load',
           'is_refusal']


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a pickled object outside the allowlist; it was not loaded."""


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


def _history_buffer_setstate(self: HistoryBuffer, state: dict) -> None:
    """``HistoryBuffer.__setstate__`` without its class-wide side effect.

    mmengine 0.10.7's version merges the pickled ``statistics_methods`` into the class attribute
    ``HistoryBuffer._statistics_methods``, a table shared by every buffer of the process, so a
    checkpoint could remap e.g. ``'mean'`` to ``max`` for all logging. Statistics methods are
    registered in code (``HistoryBuffer.register_statistics``); the pickled table is dropped.
    """
    state = dict(state)
    state.pop('statistics_methods', None)
    self._set_default_statistics()
    self.__dict__.update(state)


_GUARD_LOCK = threading.RLock()
_guard_depth = 0
_saved_setstate: List[Any] = []


@contextlib.contextmanager
def _history_buffer_guard() -> Iterator[None]:
    """The one patch left: ``HistoryBuffer.__setstate__`` is :func:`_history_buffer_setstate`
    while a safe load runs, and mmengine's own again afterwards.

    Why a patch: torch's weights-only unpickler calls the allowlisted class's ``__setstate__``,
    and mmengine's merges the pickled statistics table into the class-wide one; there is no
    extension point for how a class is unpickled. It is applied only inside
    :func:`safe_globals` (nested and threaded loads share one application, counted under a
    lock) and restored on exit, never at import. Guarded: if the installed mmengine's
    ``HistoryBuffer`` has no ``_set_default_statistics`` (the method the replacement relies
    on), nothing is patched and mmengine's ``__setstate__`` stays.
    """
    global _guard_depth
    if not hasattr(HistoryBuffer, '_set_default_statistics'):
        yield
        return
    with _GUARD_LOCK:
        if _guard_depth == 0:
            _saved_setstate[:] = [HistoryBuffer.__dict__.get('__setstate__')]
            HistoryBuffer.__setstate__ = _history_buffer_setstate
        _guard_depth += 1
    try:
        yield
    finally:
        with _GUARD_LOCK:
            _guard_depth -= 1
            if _guard_depth == 0:
                original = _saved_setstate.pop()
                if original is None:
                    del HistoryBuffer.__setstate__
                else:
                    HistoryBuffer.__setstate__ = original


@contextlib.contextmanager
def safe_globals() -> Iterator[None]:
    """Context manager for ``weights_only`` loads of mmengine checkpoints: allowlists
    :data:`MMENGINE_SAFE_GLOBALS` and unpickles ``HistoryBuffer`` without its class-wide side
    effect (:func:`_history_buffer_guard`); both are undone on exit.

    Adds only the entries torch does not list yet and removes only those on exit (torch's own
    ``safe_globals`` context removes every entry it was given, which would undo a user's own
    ``add_safe_globals``).
    """
    current = torch.serialization.get_safe_globals()
    missing = [g for g in MMENGINE_SAFE_GLOBALS if g not in current]
    with torch.serialization.safe_globals(missing), _history_buffer_guard():
        yield


_REFUSAL_PATTERN = re.compile(
    r'Unsupported global|was not an allowed global|Unsupported class|Can only build Tensor|'
    r'builtins\.getattr called as', re.IGNORECASE)
_GLOBAL_NAME = re.compile(r'GLOBAL ([\w.]+)')

#: the first bytes of every file ``torch.save`` writes: a zip archive (torch >= 1.6) or a pickle
#: (the legacy format, protocol 2+ starts with ``\x80``)
_ZIP_MAGIC = b'PK\x03\x04'
_LFS_POINTER = b'version https://git-lfs.github.com/spec/'


class NotACheckpointError(ValueError):
    """The file is not a (complete) PyTorch checkpoint: HTML, a Git LFS pointer, empty,
    truncated or some other file. Not a security refusal: nothing in it was unpickled."""


#: what the deploy tools catch: a file that is no loadable checkpoint (names the file)
CorruptCheckpointError = NotACheckpointError


def describe_non_checkpoint(head: bytes, size: int) -> Optional[str]:
    """What a file is when its first bytes show it is not a ``torch.save`` file.

    Args:
        head (bytes): the file's first bytes (512 are enough).
        size (int): the file's size in bytes.

    Returns:
        str or None: e.g. ``'is empty'``, ``'looks like HTML (...)'``; None when the file starts
        like a checkpoint (a zip archive or a pickle).
    """
    if size == 0:
        return 'is empty (0 bytes)'
    if head.startswith(_LFS_POINTER):
        return ('looks like a Git LFS pointer, not the file it points to (run `git lfs pull` '
                'in the repository it came from)')
    text = head.lstrip(b'\xef\xbb\xbf \t\r\n').lower()
    if text.startswith((b'<!doctype html', b'<html', b'<head', b'<?xml', b'<body')) \
            or (text.startswith(b'<') and b'<html' in text):
        return ('looks like HTML (a web page -- an error or login page -- was saved instead of '
                'the checkpoint; download it again)')
    if head.startswith(_ZIP_MAGIC) or head.startswith(b'\x80'):
        return None
    if text.startswith((b'{', b'[')):
        return 'looks like JSON text, not a PyTorch checkpoint'
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:256])
    if printable >= 0.95 * min(len(head), 256):
        return f'looks like a text file (starts with {head[:40]!r})'
    return f'has an unknown binary format (starts with {head[:16]!r})'


def _head_and_size(f: Any) -> Optional[Tuple[bytes, int]]:
    """First 512 bytes and size of a path or a seekable file object (None if unknown)."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, 'rb') as fh:
            return fh.read(512), os.fstat(fh.fileno()).st_size
    if hasattr(f, 'seek') and hasattr(f, 'tell') and hasattr(f, 'read'):
        pos = f.tell()
        head = f.read(512)
        f.seek(0, os.SEEK_END)
        size = f.tell() - pos
        f.seek(pos)
        return head, size
    return None


def _not_a_checkpoint(filename: Any, what: str, hint: str = '') -> NotACheckpointError:
    return NotACheckpointError(
        f'{filename!s} is not a PyTorch checkpoint: it {what}.{hint} Nothing in it was '
        'unpickled.')


def _truncated(filename: Any, head: bytes, err: BaseException) -> NotACheckpointError:
    kind = 'zip archive' if head.startswith(_ZIP_MAGIC) else 'pickle'
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return _not_a_checkpoint(
        filename, f'is truncated or corrupt (a {kind} that does not read to the end: {detail})',
        ' A save or download was probably interrupted; use another checkpoint or download it '
        'again.')


def _refusal(filename: Any, err: BaseException) -> UnsafeCheckpointError:
    detail = _reason(err)
    match = _GLOBAL_NAME.search(str(err))
    name = match.group(1) if match else detail
    return UnsafeCheckpointError(
        f'Refused to load checkpoint {filename!s}: it holds a pickled object outside the '
        f'allowlist: {name} ({detail}). It is neither a tensor nor mmengine training state; '
        f'loading it would run code chosen by whoever made the file, so it was not loaded and '
        f'none of its code ran. repl_mm loads checkpoints with torch.load(weights_only=True) and '
        f'an allowlist of the classes mmengine saves '
        f'(repl_mm.engine.fileio.MMENGINE_SAFE_GLOBALS). If you made this file yourself and '
        f'trust it, allowlist its classes with torch.serialization.add_safe_globals([...]) '
        f'before loading.')


def _reason(err: BaseException) -> str:
    """The line of torch's weights-only error that names the refused object."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if _REFUSAL_PATTERN.search(line):
            return line
    return lines[-1] if lines else type(err).__name__


def is_refusal(err: BaseException) -> bool:
    """Whether a ``torch.load(weights_only=True)`` error is a refusal of a pickled object
    outside the allowlist (and not a broken or foreign file)."""
    return isinstance(err, pickle.UnpicklingError) and bool(_REFUSAL_PATTERN.search(str(err)))


def safe_torch_load(f: Any, map_location: Any = None, filename: Optional[str] = None) -> Any:
    """``torch.load(f, weights_only=True)`` under the mmengine allowlist.

    ``weights_only=True`` is passed explicitly, so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` does not
    turn it off (torch only lets that variable override a call site that left it unset).

    Args:
        f: a path or a readable, seekable binary file object.
        map_location: as for :func:`torch.load`.
        filename (str, optional): the name to report in errors (defaults to ``f``).

    Raises:
        UnsafeCheckpointError: the file pickles an object outside the allowlist.
        NotACheckpointError: the file is empty, HTML, a Git LFS pointer, truncated or otherwise
            not a ``torch.save`` file.
    """
    name = filename if filename is not None else f
    probe = _head_and_size(f)
    head = b''
    if probe is not None:
        head, size = probe
        what = describe_non_checkpoint(head, size)
        if what is not None:
            raise _not_a_checkpoint(name, what)
    try:
        with safe_globals():
            return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if is_refusal(e):
            raise _refusal(name, e) from None
        raise _truncated(name, head, e) from None
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError) as e:
        if probe is None:  # a stream we could not look into: keep torch's own error
            raise
        raise _truncated(name, head, e) from None


