"""What ``import repl_mm`` does: registers the RepL modules, ``ReplRunner``, the hooks and the safe
checkpoint schemes (registry entries only, the same after a second import), and imports none of
repl_mm's CLI code (the Runner-building ``repl_mm.engine.runner.build``)."""
import subprocess
import sys

CODE = r'''
import sys
import mmengine.runner.checkpoint as ckpt
first = ckpt.CheckpointLoader.load_checkpoint.__func__
import repl_mm
from repl_mm.engine.fileio.loaders import safe_schemes_registered
print('installed', safe_schemes_registered())
print('runner', 'repl_mm.engine.runner.build' in sys.modules)
print('scopes', sorted(repl_mm.AVAILABLE))
import mmdet.registry
print('registered', mmdet.registry.MODELS.get('ResNetRepL').__module__)
print('runner_type', mmdet.registry.RUNNERS.get('ReplRunner').__module__)
from repl_mm.engine.fileio.loaders import register_safe_schemes
register_safe_schemes()
import importlib; importlib.reload(sys.modules['repl_mm.engine.fileio.loaders'])
print('once', ckpt.CheckpointLoader.load_checkpoint.__func__ is first)
'''


def test_import_registers_and_installs_once():
    out = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    # only our lines: a toolbox may print its own at import (onedl-mmpretrain 1.3.6: "Could not
    # import OneDL. Skipping OneDL datasets.")
    keys = ('installed', 'runner', 'scopes', 'registered', 'runner_type', 'once')
    lines = dict(line.split(' ', 1) for line in out.stdout.splitlines()
                 if line.split(' ', 1)[0] in keys)
    assert lines == {'installed': 'True', 'runner': 'False',
                     'scopes': "['mmdet', 'mmpretrain', 'mmseg']",
                     'registered': 'repl_mm.adapters.mmdet',
                     'runner_type': 'repl_mm.engine.runner.repl_runner', 'once': 'True'}
