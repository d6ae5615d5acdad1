"""The package structure of ``repl_mm`` (docs/architecture.md): the import graph, built with
``ast`` from every module's imports (absolute, relative and function-level) of the package and
of ``tools/``, has no cycle; each layer imports only from the layers below it (or beside it,
where :data:`RANK` gives two layers one rank); nothing but ``__init__`` (and the modules listed
in :data:`TOP_LEVEL`) sits at the top of the package; every tool is a thin entry point over
``repl_mm.cli``."""
import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'repl_mm'

#: layer (second name component of ``repl_mm.<layer>``; ``''`` is ``repl_mm/__init__.py``;
#: ``tools`` the repository's scripts) -> rank. A module may import from layers of lower or
#: equal rank only. ``utils`` imports nothing of the package.
RANK = {
    'utils': 0,
    'core': 1,
    'models': 2, 'datasets': 2, 'evaluation': 2,
    'adapters': 3,
    '': 4, 'engine': 4, 'deploy': 4, 'analysis': 4, 'apis': 4,
    'testing': 5,
    'cli': 6,
    'tools': 7,
}
#: layers that must not import each other although the ranks would allow it
FORBIDDEN = {
    'datasets': {'models', 'evaluation'},
    'evaluation': {'models', 'datasets', 'core'},
    'models': {'datasets', 'evaluation'},
}
#: known exceptions to RANK / FORBIDDEN, edge by edge (issue 22 leaves them for later: the
#: layout branch fixed them by moving the LM vocabulary to ``utils/text.py``,
#: ``CheckpointFormError`` to ``utils/errors.py``; the synthetic batches of ``analysis`` moved out
#: of ``testing`` to ``adapters/batches.py``); a new edge of this kind fails the test
KNOWN_EXCEPTIONS = {
    # CheckpointFormError of a language-model checkpoint
    ('repl_mm.evaluation.language_model', 'repl_mm.core.forms'),
    # the LM's vocabulary size
    ('repl_mm.models.transformer_lm', 'repl_mm.datasets.text'),
}
#: what may sit at the top of ``repl_mm`` besides ``__init__.py``: the version module (read by
#: path by setup.py, ``repl_mm/utils/envcheck.py`` and the install scripts)
TOP_LEVEL = {'version'}
#: the toolboxes; ``repl_mm.core`` and ``repl_mm.utils`` import none of them
TOOLBOXES = {'mmdet', 'mmseg', 'mmpretrain'}
#: tools that are not (yet) thin entry points over ``repl_mm.cli`` (issue 22: every tool is
#: thin now). The set may only shrink: a new tool must be thin.
NOT_THIN: set = set()
MAX_TOOL_LINES = 60


def module_files() -> Dict[str, Path]:
    """Dotted module name -> file, for every module of the package and every script of
    ``tools/`` (``tools.analysis_tools.plan``; ``__init__`` files are their package)."""
    out = {}
    for top in (PACKAGE, 'tools'):
        for path in sorted((ROOT / top).rglob('*.py')):
            parts = list(path.relative_to(ROOT).with_suffix('').parts)
            if any(p.startswith('.') or p == '__pycache__' for p in parts):
                continue   # repl_mm/.mim: copies of configs and tools made at install
            if parts[-1] == '__init__':
                parts.pop()
            out['.'.join(parts)] = path
    return out


def _resolve(name: str, modules: Set[str]) -> str:
    """The longest prefix of ``name`` that is a module of the package."""
    parts = name.split('.')
    for n in range(len(parts), 0, -1):
        if '.'.join(parts[:n]) in modules:
            return '.'.join(parts[:n])
    return name


def imports_of(name: str, path: Path, modules: Set[str]) -> Set[str]:
    """Every module ``name`` imports (anywhere in the file): package modules resolved to the
    module (``from . import cost`` -> ``repl_mm.cost``, ``from .core import f`` ->
    ``repl_mm.core``), other top-level names as themselves (``tools``, ``torch``)."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == '__init__.py'
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.add(_resolve(alias.name, modules) if alias.name.split('.')[0] == PACKAGE
                        else alias.name.split('.')[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split('.')
                if not is_pkg:
                    base = base[:-1]
                base = base[:len(base) - (node.level - 1)]
                full = '.'.join(base + ([node.module] if node.module else []))
            else:
                full = node.module
            if full.split('.')[0] != PACKAGE:
                out.add(full.split('.')[0])
                continue
            for alias in node.names:
                sub = f'{full}.{alias.name}'
                out.add(sub if sub in modules else _resolve(full, modules))
    out.discard(name)
    return out


def import_graph() -> Dict[str, Set[str]]:
    """Module -> the package modules (and outside top-level names) it imports."""
    files = module_files()
    names = set(files)
    return {n: imports_of(n, p, names) for n, p in files.items()}


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def layer(module: str) -> str:
    """``repl_mm.analysis.predict`` -> ``analysis``; ``tools.x`` -> ``tools``."""
    parts = module.split('.')
    if parts[0] != PACKAGE:
        return parts[0]
    return parts[1] if len(parts) > 1 else ''


def test_graph_sees_relative_and_function_level_imports(tmp_path):
    graph = import_graph()
    assert len(graph) > 20
    runners = graph[f'{PACKAGE}.analysis.train_benchmark']
    # ``from . import cost_model as cost`` and ``from .counters import ...``
    assert {f'{PACKAGE}.analysis.cost_model', f'{PACKAGE}.analysis.counters'} <= runners
    # a function-level import: build_model registers the backbones lazily
    assert PACKAGE in graph[f'{PACKAGE}.analysis.specs']
    # the cycle this package had before repl_mm.analysis: benchmark imported cost inside a
    # function, cost imported benchmark at the top
    (tmp_path / 'benchmark.py').write_text('def f():\n    from . import cost\n')
    (tmp_path / 'cost.py').write_text('from .benchmark import count_flops\n')
    names = {PACKAGE, f'{PACKAGE}.benchmark', f'{PACKAGE}.cost'}
    old = {n: imports_of(n, tmp_path / (n.split('.')[-1] + '.py'), names) for n in names
           if n != PACKAGE}
    assert old == {f'{PACKAGE}.benchmark': {f'{PACKAGE}.cost'},
                   f'{PACKAGE}.cost': {f'{PACKAGE}.benchmark'}}
    assert find_cycles(old) == [[f'{PACKAGE}.benchmark', f'{PACKAGE}.cost']]


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    assert find_cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycle():
    assert find_cycles(import_graph()) == []


def test_every_layer_is_ranked():
    unranked = sorted({layer(n) for n in import_graph()} - set(RANK) - TOP_LEVEL)
    assert unranked == [], f'give these layers a rank in RANK: {unranked}'


@pytest.mark.parametrize('low', sorted(RANK))
def test_layering(low):
    graph = import_graph()
    names = set(graph)
    bad = sorted(f'{n} imports {m}' for n, ms in graph.items() if layer(n) == low
                 for m in ms if (m in names or m == PACKAGE) and
                 (RANK.get(layer(m), -1) > RANK[low] or layer(m) in FORBIDDEN.get(low, ()))
                 and (n, m) not in KNOWN_EXCEPTIONS)
    assert bad == [], (f'{low} (rank {RANK[low]}) may import only layers of rank <= '
                       f'{RANK[low]}, not {sorted(FORBIDDEN.get(low, ()))}')


def test_nothing_imports_cli_or_tools_but_tools():
    bad = sorted(f'{n} imports {m}' for n, ms in import_graph().items()
                 if layer(n) not in ('cli', 'tools') for m in ms if layer(m) in ('cli', 'tools'))
    assert bad == []


def test_top_level_modules():
    """No module sits at the top of the package besides ``__init__`` (and TOP_LEVEL)."""
    top = sorted(p.stem for p in (ROOT / PACKAGE).glob('*.py') if p.stem != '__init__')
    assert set(top) <= TOP_LEVEL, f'move {sorted(set(top) - TOP_LEVEL)} into a layer'


def test_low_layers_import_no_toolbox_at_package_level():
    """The ``__init__`` of ``repl_mm.core`` / ``repl_mm.utils`` / ``repl_mm.adapters`` and every
    module of ``core`` and ``utils`` import no toolbox at the top (``repl_mm.models`` builds on
    the toolboxes' backbones, so it does; ``import repl_mm`` registers the backbones in every
    installed toolbox through :func:`repl_mm.adapters.import_adapters`)."""
    graph = import_graph()
    for pkg in ('core', 'utils', 'adapters'):
        name = f'{PACKAGE}.{pkg}'
        assert not graph[name] & TOOLBOXES, name
    for name, ms in graph.items():
        if layer(name) in ('core', 'utils'):
            assert not ms & TOOLBOXES, f'{name} imports {sorted(ms & TOOLBOXES)}'


def tool_files() -> Dict[str, Path]:
    return {n: p for n, p in module_files().items() if layer(n) == 'tools'}


def test_tools_are_thin_entry_points_over_cli():
    """A tool imports from repl_mm only ``repl_mm.cli``, touches no ``sys.path`` and is a few
    lines (the logic lives in ``repl_mm.cli``, so it also runs from an installed package)."""
    tools = tool_files()
    assert len(tools) > 15
    problems = []
    for name, path in sorted(tools.items()):
        if name in NOT_THIN:
            continue
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_TOOL_LINES:
            problems.append(f'{name}: {lines} lines')
        if 'sys.path' in text:
            problems.append(f'{name}: touches sys.path')
        other = sorted(m for m in imports_of(name, path, set(module_files()))
                       if m.split('.')[0] == PACKAGE and not m.startswith(f'{PACKAGE}.cli'))
        if other:
            problems.append(f'{name}: imports {other}')
        if f'{PACKAGE}.cli' not in text:
            problems.append(f'{name}: does not call {PACKAGE}.cli')
    assert problems == []


def test_exception_lists_hold_only_what_still_exists():
    """KNOWN_EXCEPTIONS and NOT_THIN only shrink: an entry that no longer applies is removed."""
    graph = import_graph()
    assert sorted(e for e in KNOWN_EXCEPTIONS if e[1] not in graph.get(e[0], ())) == []
    assert sorted(NOT_THIN - set(tool_files())) == []


def test_thin_tool_rules_can_fail(tmp_path):
    fat = tmp_path / 'fat.py'
    fat.write_text('import sys\nsys.path.insert(0, ".")\nfrom repl_mm.deploy import x\n')
    assert imports_of('tools.fat', fat, {f'{PACKAGE}.deploy'}) == {'sys', f'{PACKAGE}.deploy'}
