"""The console scripts of repl-mm (``repl-mm-train``, ``repl-mm-test``, ``repl-mm-check-env``,
...) and the first step of ``tools/train.py`` / ``tools/test.py`` / ``tools/check_env.py``.

Standard library only, and outside the ``repl_mm`` package on purpose: importing anything of
``repl_mm`` runs ``repl_mm/__init__.py``, which imports torch and every installed toolbox. What
must come before that runs here:

* :func:`precheck`: the data check of issue 29 (``repl_mm/datasets/check.py``, loaded by path)
  for ``train`` / ``test``: one block naming what is missing and exit 1, in seconds, before
  torch starts; ``--check-data`` checks and exits 0/1;
* :func:`check_env`: ``repl_mm/cli/check_env.py`` by path, so that it runs where
  ``import repl_mm`` fails.

The package folder is found with ``importlib.util.find_spec('repl_mm')``, which does not
execute the package. The command-line logic itself lives in :mod:`repl_mm.cli`; the other
console scripts call it directly (``repl-mm-convert = repl_mm.cli.convert_e2e_to_repl:main``).
"""
import importlib
import importlib.util
import os.path as osp
import runpy
from typing import Optional, Sequence

__all__ = ['package_dir', 'precheck', 'train', 'test', 'check_env']


def package_dir() -> str:
    """The folder of the ``repl_mm`` package that ``import repl_mm`` would load (not executed).

    Raises:
        SystemExit: repl_mm is not importable (names the fix).
    """
    spec = importlib.util.find_spec('repl_mm')
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('error: the repl_mm package is not importable: pip install -e . (in '
                         'the checkout), or PYTHONPATH=<the checkout>')
    return list(spec.submodule_search_locations)[0]


def precheck(tool: str, argv: Optional[Sequence[str]] = None) -> None:
    """The data check of ``tool`` (``'train'``, ``'test'`` or ``'multi_seed'``) on ``argv``
    (default ``sys.argv[1:]``): ``SystemExit(1)`` on missing or wrong data, ``SystemExit(0)``
    after ``--check-data`` on good data, nothing otherwise. Runs
    ``repl_mm/datasets/check.py``'s ``precheck`` without importing the package."""
    runpy.run_path(osp.join(package_dir(), 'datasets', 'check.py'))['precheck'](tool, argv)


def _cli(name: str):
    """``repl_mm.cli.<name>``, imported (and with it repl_mm, torch and the toolboxes)."""
    return importlib.import_module(f'repl_mm.cli.{name}')


def train(argv: Optional[Sequence[str]] = None, label: str = 'repl-mm-train') -> int:
    """``repl-mm-train``: ``tools/train.py``'s command line; the data check first."""
    precheck('train', argv)
    return _cli('train').run(argv, label=label)


def test(argv: Optional[Sequence[str]] = None) -> int:
    """``repl-mm-test``: ``tools/test.py``'s command line; the data check first."""
    precheck('test', argv)
    return _cli('test').run(argv, label='repl-mm-test')


def check_env(argv: Optional[Sequence[str]] = None) -> int:
    """``repl-mm-check-env``: ``repl_mm/cli/check_env.py`` run by path (it reads
    ``repl_mm/utils/envcheck.py`` by path too), so it reports where ``import repl_mm`` fails."""
    module = runpy.run_path(osp.join(package_dir(), 'cli', 'check_env.py'))
    return module['main'](argv)
