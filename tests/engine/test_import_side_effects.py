"""``import repl_mm`` changes nothing but registries (issue 21).

In a fresh interpreter the identity (``id`` and qualified name) of every function, method,
classmethod, staticmethod and property of ``mmengine.runner.checkpoint`` (module functions and
``CheckpointLoader``), ``mmengine.runner`` / ``mmengine.runner.runner`` (the module functions
``Runner`` calls), ``Runner``, ``CheckpointHook``, ``HistoryBuffer``, ``torch.load`` /
``torch.save`` / ``torch.serialization`` and the whole of ``os.environ`` and torch's safe globals
are recorded before and after ``import repl_mm`` and must be equal (the toolboxes are imported
before the first record: what their own imports change is theirs). A control import that
replaces one mmengine function is caught by the same comparison, so the test can fail.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SNAPSHOT = r'''
import inspect, json, os, sys, types
import torch
import mmengine.runner, mmengine.runner.checkpoint, mmengine.runner.runner
import mmengine.hooks, mmengine.logging, mmengine.registry
import torch.serialization

def members(obj):
    out = {}
    names = set(dir(obj)) | set(getattr(obj, '__dict__', {}))
    for name in sorted(names):
        try:
            value = inspect.getattr_static(obj, name)
        except AttributeError:
            continue
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
        if isinstance(value, property):
            value = (value.fget, value.fset)
            out[name] = [id(v) for v in value]
            continue
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type,
                              types.MethodType, types.WrapperDescriptorType,
                              types.MethodDescriptorType)) or callable(value):
            out[name] = [id(value), getattr(value, '__module__', None),
                         getattr(value, '__qualname__', None)]
    return out

def snapshot():
    ckpt = mmengine.runner.checkpoint
    targets = {
        'mmengine.runner.checkpoint': ckpt,
        'mmengine.runner': mmengine.runner,
        'mmengine.runner.runner': mmengine.runner.runner,
        'CheckpointLoader': ckpt.CheckpointLoader,
        'Runner': mmengine.runner.Runner,
        'CheckpointHook': mmengine.hooks.CheckpointHook,
        'HistoryBuffer': mmengine.logging.HistoryBuffer,
        'torch.serialization': torch.serialization,
    }
    snap = {name: members(obj) for name, obj in targets.items()}
    snap['torch.load'] = [id(torch.load), torch.load.__module__, torch.load.__qualname__]
    snap['torch.save'] = [id(torch.save), torch.save.__module__, torch.save.__qualname__]
    snap['os.environ'] = dict(os.environ)
    snap['safe_globals'] = sorted(map(repr, torch.serialization.get_safe_globals()))
    return snap

exec(sys.argv[2])  # what the toolboxes themselves change when imported happens before
before = snapshot()
exec(sys.argv[1])
after = snapshot()
diff = {}
for key in before:
    if before[key] != after[key]:
        if isinstance(before[key], dict):
            changed = sorted(k for k in set(before[key]) | set(after[key])
                             if before[key].get(k) != after[key].get(k))
            diff[key] = changed
        else:
            diff[key] = 'changed'
print(json.dumps({'diff': diff, 'counts': {k: len(v) for k, v in before.items()
                                           if isinstance(v, dict)}}))
'''


#: imports the installed toolboxes' models (what ``import repl_mm`` imports of them): importing
#: them sets environment variables (scikit-learn: ``KMP_DUPLICATE_LIB_OK``, ``KMP_INIT_AT_FORK``)
#: and torch registers its DTensor safe globals -- their side effects, not repl_mm's
TOOLBOXES = """
import importlib
for name in ('mmdet.models', 'mmseg.models', 'mmpretrain.models', 'sklearn'):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
"""


def _diff(statement: str, pre: str = TOOLBOXES) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    out = subprocess.run([sys.executable, '-c', SNAPSHOT, statement, pre], capture_output=True,
                         text=True, timeout=600, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_repl_mm_changes_no_function_and_no_environment():
    result = _diff('import repl_mm; import repl_mm.engine; '
                   'from repl_mm.engine import ReplRunner, SafeCheckpointHook')
    assert result['diff'] == {}
    # the snapshot did look at the functions (Runner has some 100 members)
    assert result['counts']['Runner'] > 50 and result['counts']['CheckpointLoader'] >= 4
    assert result['counts']['mmengine.runner.checkpoint'] > 20


def test_import_repl_mm_first_replaces_no_function():
    """Nothing imported before: the toolboxes come in with repl_mm, and still no function of
    mmengine or torch is replaced (only the environment and torch's safe globals change, by the
    toolboxes' own imports -- the test above separates them)."""
    result = _diff('import repl_mm', pre='')
    assert set(result['diff']) <= {'os.environ', 'safe_globals'}
    assert set(result['diff'].get('os.environ', [])) <= {'KMP_DUPLICATE_LIB_OK',
                                                         'KMP_INIT_AT_FORK'}


def test_control_a_replaced_function_is_caught():
    result = _diff('import mmengine.runner.checkpoint as c, mmengine.hooks as h, os; '
                   'c.load_from_local = print; '
                   'h.CheckpointHook._save_checkpoint_with_step = print; '
                   'os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"')
    assert result['diff'] == {'mmengine.runner.checkpoint': ['load_from_local'],
                              'CheckpointHook': ['_save_checkpoint_with_step'],
                              'os.environ': ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD']}


CORE = r'''
import sys, types
# ``repl_mm`` as a bare namespace: only ``repl_mm.core``'s own imports run (the package's
# __init__ imports the toolbox adapters, which is what registers the backbones)
pkg = types.ModuleType('repl_mm')
pkg.__path__ = [sys.argv[1]]
sys.modules['repl_mm'] = pkg
import repl_mm.core
print(sorted(m for m in ('mmdet', 'mmseg', 'mmpretrain', 'mmcv') if m in sys.modules))
print(sorted(m for m in sys.modules if m.startswith('repl_mm.')))
'''


def test_core_imports_no_toolbox():
    out = subprocess.run([sys.executable, '-c', CORE, os.path.join(ROOT, 'repl_mm')],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    toolboxes, modules = out.stdout.strip().splitlines()
    assert toolboxes == '[]'
    assert "'repl_mm.core.layer'" in modules and 'repl_mm.engine' not in modules


@pytest.mark.parametrize('name', ['UnsafeCheckpointError', 'NotACheckpointError',
                                  'CorruptCheckpointError', 'NoLoadableCheckpointError',
                                  'NonFiniteLossError', 'ReplRunner', 'safe_torch_load'])
def test_public_names_importable_from_engine(name):
    import repl_mm.engine
    assert getattr(repl_mm.engine, name) is not None
