"""The path of one of repl_mm's own configs: ``repl_mm::retinanet_r101_repl_coco.py``.

repl_mm's configs are installed with the package in ``repl_mm/.mim/configs`` (as mmdet's are in
``mmdet/.mim/configs``; ``setup.py`` puts them there: symlinks for ``pip install -e .``, copies
in a wheel), where mmengine finds them for ``_base_ = 'repl_mm::...'``. :func:`config_path`
finds them there, or in the source checkout, for the top-level config of a tool
(``repl_mm.engine.runner.build.load_config``). Standard library only."""
import os
import os.path as osp
from typing import Dict, List, Mapping

__all__ = ['SCHEME', 'config_dirs', 'config_path', 'tool_path', 'package_env']

#: the prefix naming one of repl_mm's own configs
SCHEME = 'repl_mm::'
_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_dirs() -> List[str]:
    """Where repl_mm's configs are looked up, in order: the ``configs`` folder of the source
    checkout this package is imported from (if it is one: a ``setup.py`` beside it), then the
    installed ``repl_mm/.mim/configs``."""
    root = osp.dirname(_PACKAGE)
    checkout = [osp.join(root, 'configs')] if osp.isfile(osp.join(root, 'setup.py')) else []
    return checkout + [osp.join(_PACKAGE, '.mim', 'configs')]


def config_path(name: str) -> str:
    """The file of one of repl_mm's configs: ``'repl_mm::retinanet_r101_repl_coco.py'`` (or
    ``'repl_mm::table9/...'``) -> its absolute path; any other path is returned unchanged.

    Raises:
        FileNotFoundError: no such config; names the folders searched.
    """
    if not name.startswith(SCHEME):
        return name
    rel = name[len(SCHEME):]
    for folder in config_dirs():
        path = osp.join(folder, rel)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'config {name!r}: no {rel} in {" or ".join(config_dirs())} '
                            '(install repl_mm with pip, or run from its source checkout)')


def tool_path(rel: str) -> str:
    """The file of one of repl_mm's tool scripts, ``'multi_seed.py'`` -> the absolute path of
    ``tools/multi_seed.py`` in the source checkout this package is imported from, else in the
    installed ``repl_mm/.mim/tools`` (what a tool runs as a subprocess).

    Raises:
        FileNotFoundError: no such tool; names the folders searched.
    """
    root = osp.dirname(_PACKAGE)
    dirs = ([osp.join(root, 'tools')] if osp.isfile(osp.join(root, 'setup.py')) else []) + \
        [osp.join(_PACKAGE, '.mim', 'tools')]
    for folder in dirs:
        path = osp.join(folder, rel)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'tool {rel!r}: not in {" or ".join(dirs)} (install repl_mm with '
                            'pip, or run from its source checkout)')


def package_env(env: Mapping[str, str]) -> Dict[str, str]:
    """``env`` with the folder that holds this ``repl_mm`` first on ``PYTHONPATH``: a tool run
    as a subprocess imports the same package as its parent (the tools do not touch
    ``sys.path``)."""
    out = dict(env)
    parent = osp.dirname(_PACKAGE)
    out['PYTHONPATH'] = parent + (os.pathsep + out['PYTHONPATH'] if out.get('PYTHONPATH')
                                  else '')
    return out
