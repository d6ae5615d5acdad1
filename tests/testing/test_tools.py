"""repl_mm.testing.tools.load_tool: a tool script as a fresh module, a missing one named."""
import os.path as osp

import pytest

from repl_mm.testing.tools import REPO_ROOT, load_tool


def test_loads_a_tool_fresh_each_time():
    a = load_tool('tools/analysis_tools/evidence.py')
    b = load_tool(osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'evidence.py'))
    assert a is not b and callable(a.main) and a.__name__ == b.__name__ == \
        'repl_tool_tools_analysis_tools_evidence_py'
    # the thin tool's main is repl_mm.cli.evidence.main; its docstring is the tool's own
    assert a.main is b.main and a.__doc__.startswith('Real-data evidence on this machine')


def test_missing_tool_is_named():
    with pytest.raises(FileNotFoundError, match=r'tools/nope\.py does not exist'):
        load_tool('tools/nope.py')
