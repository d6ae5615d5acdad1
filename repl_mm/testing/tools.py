"""Loading a script of the repository's ``tools/`` as a module, so a test can call its
``main(argv)`` in the test process (the imports of a subprocess cost seconds each)."""
import importlib.util
import os.path as osp
import re
from types import ModuleType

__all__ = ['REPO_ROOT', 'load_tool']

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
