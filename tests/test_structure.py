"""The package structure of ``repl_mm`` (layers core -> models -> adapters -> engine/analysis
-> tools): the import graph, built with ``ast`` from every module's imports
(absolute, relative and function-level), has no cycle, and each layer imports only from the
layers below it."""
import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'repl_mm'

#: layer -> layers (second name component of ``repl_mm.<layer>``) it must not import from;
#: ``tools`` is the repository's top-level scripts package.
FORBIDDEN = {
    'utils': {'core', 'models', 'datasets', 'evaluation', 'adapters', 'engine', 'deploy',
              'analysis', 'testing', 'cli'},
    'core': {'models', 'datasets', 'evaluation', 'adapters', 'engine', 'analysis', 'testing'},
    'models': {'evaluation', 'adapters', 'engine', 'analysis', 'testing'},
    'datasets': {'models', 'evaluation', 'adapters', 'engine', 'analysis', 'testing'},
    'evaluation': {'adapters', 'engine', 'analysis', 'testing'},
    'adapters': {'engine', 'analysis', 'testing'},
    'analysis': {'tools'},
    'engine': {'tools'},
    'testing': {'analysis', 'engine', 'tools'},
}


def module_files() -> Dict[str, Path]:
    """Dotted module name -> file, for every module of the package (``__init__`` files are
    their package)."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob('*.py')):
        parts = list(path.relative_to(ROOT).with_suffix('').parts)
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
    """``repl_mm.analysis.runners`` -> ``analysis``; ``tools.x`` -> ``tools``."""
    parts = module.split('.')
    if parts[0] != PACKAGE:
        return parts[0]
    return parts[1] if len(parts) > 1 else ''


def test_graph_sees_relative_and_function_level_imports(tmp_path):
    graph = import_graph()
    assert len(graph) > 20
    runners = graph[f'{PACKAGE}.analysis.runners']
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


@pytest.mark.parametrize('low', sorted(FORBIDDEN))
def test_layering(low):
    bad = sorted(f'{n} imports {m}' for n, ms in import_graph().items() if layer(n) == low
                 for m in ms if layer(m) in FORBIDDEN[low])
    assert bad == [], f'{low} must not import from {sorted(FORBIDDEN[low])}'
