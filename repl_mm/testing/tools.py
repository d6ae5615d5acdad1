"""Loading a script of the repository's ``tools/`` as a module, so a test can call its
``main(argv)`` in the test process (the imports of a subprocess cost seconds each), and
training through ``tools/train.py``'s ``main`` with a crash in the middle of the run (the
resume tests: :func:`train_in_process`)."""
import importlib.util
import os.path as osp
import re
from types import ModuleType
from typing import Any, Callable

__all__ = ['REPO_ROOT', 'load_tool', 'TrainCrash', 'train_in_process']

#: the source checkout that holds ``repl_mm/`` and ``tools/``
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(path: str) -> ModuleType:
    """Executes a tool script and returns it as a fresh module (not put in ``sys.modules``).

    Args:
        path (str): the script, relative to the repository root (``'tools/train.py'``) or
            absolute.

    Raises:
        FileNotFoundError: the script does not exist (names the path; the tools are in a
            source checkout, not in an installed wheel).
    """
    full = path if osp.isabs(path) else osp.join(REPO_ROOT, path)
    if not osp.isfile(full):
        raise FileNotFoundError(f'load_tool: {full} does not exist (the tools live in the '
                                'source checkout of repl-mm)')
    name = 'repl_tool_' + re.sub(r'\W', '_', osp.relpath(full, REPO_ROOT))
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TrainCrash(RuntimeError):
    """The crash :func:`train_in_process` raises after iteration ``crash_after``."""


def train_in_process(main: Callable[[list], Any], config: str, work_dir: Any, *flags: str,
                     crash_after: int = 0) -> Any:
    """``main([config, '--work-dir', work_dir, *flags, '--cfg-options',
    'experiment_name=<work dir name>'])`` (``tools/train.py``'s ``main``: returns the Runner).

    Args:
        crash_after (int): > 0: raise :class:`TrainCrash` after this (1-based) training
            iteration of mmengine's ``EpochBasedTrainLoop`` (and its subclasses); the loop is
            restored afterwards.
    """
    from mmengine.runner.loops import EpochBasedTrainLoop
    original = EpochBasedTrainLoop.run_iter
    if crash_after:
        def run_iter(self, idx, data_batch):
            original(self, idx, data_batch)
            if self._iter == crash_after:
                raise TrainCrash(f'crash after iteration {crash_after}')
        EpochBasedTrainLoop.run_iter = run_iter
    try:
        return main([config, '--work-dir', str(work_dir), *flags, '--cfg-options',
                     f'experiment_name={osp.basename(str(work_dir))}'])
    finally:
        EpochBasedTrainLoop.run_iter = original
