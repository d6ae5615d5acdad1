"""Guards for the few mmengine functions that :mod:`repl_mm.runtime` replaces.

Each replacement mirrors one function of mmengine 0.10.7. If mmengine is another version, or a
function's source is not the one the replacement was written against, patching it could silently
drop a fix mmengine made since; :func:`check_source` refuses instead, naming the function.
"""
import hashlib
import inspect
import textwrap
from typing import Callable, Dict

import mmengine

__all__ = ['SUPPORTED_MMENGINE', 'EXPECTED_SOURCES', 'check_source', 'source_digest']

#: the mmengine version the replacements are written against
SUPPORTED_MMENGINE = '0.10.7'

#: sha256 (first 16 hex digits) of the dedented source of each replaced function
EXPECTED_SOURCES: Dict[str, str] = {
    'load_from_openmmlab': 'c17b71970067b708',
    'load_from_pavi': '65d239620a49308d',
    'load_from_ceph': 'dabd19a85fecf851',
    'HistoryBuffer.__setstate__': '6c48903895ddecb7',
    'save_checkpoint': '7f60c6ca167fd4dd',
    'find_latest_checkpoint': '3a539bcc0eb37663',
    'CheckpointHook._save_checkpoint_with_step': '9b971b6cd3cc507d',
    'CheckpointHook._save_best_checkpoint': 'b66a8a9e45854dcb',
}


def source_digest(fn: Callable) -> str:
    """sha256 (16 hex digits) of ``fn``'s dedented source."""
    return hashlib.sha256(textwrap.dedent(inspect.getsource(fn)).encode()).hexdigest()[:16]


def check_source(fn: Callable, name: str) -> None:
    """Refuses to patch ``fn`` unless it is mmengine 0.10.7's ``name``.

    Args:
        fn (callable): the mmengine function about to be replaced.
        name (str): its key in :data:`EXPECTED_SOURCES`.

    Raises:
        RuntimeError: mmengine is not 0.10.7, or ``fn``'s source differs from 0.10.7's.
    """
    if getattr(fn, '__module__', '').startswith('repl_mm'):
        return  # already ours (a second install)
    if mmengine.__version__ != SUPPORTED_MMENGINE:
        raise RuntimeError(
            f'repl_mm patches mmengine {SUPPORTED_MMENGINE} (safe checkpoint loading and '
            f'crash-safe saving replace {name}), but mmengine {mmengine.__version__} is '
            f'installed. Install mmengine=={SUPPORTED_MMENGINE} (tools/install_env.sh).')
    digest = source_digest(fn)
    if digest != EXPECTED_SOURCES[name]:
        raise RuntimeError(
            f'mmengine {mmengine.__version__}: {name} is not the function repl_mm expects to '
            f'replace (source digest {digest}, expected {EXPECTED_SOURCES[name]}); the installed '
            f'mmengine was modified. Reinstall mmengine=={SUPPORTED_MMENGINE}.')
