"""What ``import repl_mm`` does: registers the RepL modules, installs the safe loader once, and
imports none of repl_mm's runtime CLI code (the Runner-building ``repl_mm.engine.runner.build``)."""
import subprocess
import sys

CODE = r'''
import sys
import mmengine.runner.checkpoint as ckpt
import repl_mm
from repl_mm.engine.fileio.safe_load import is_installed
print('installed', is_installed())
print('runner', 'repl_mm.engine.runner.build' in sys.modules)
print('scopes', sorted(repl_mm.AVAILABLE))
import mmdet.registry
print('registered', mmdet.registry.MODELS.get('ResNetRepL').__module__)
first = ckpt.CheckpointLoader.load_checkpoint.__func__
repl_mm.install_safe_checkpoint_loading()
import importlib; importlib.reload(sys.modules['repl_mm.runtime'])
print('once', ckpt.CheckpointLoader.load_checkpoint.__func__ is first)
'''


def test_import_registers_and_installs_once():
    out = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(' ', 1) for line in out.stdout.splitlines())
    assert lines == {'installed': 'True', 'runner': 'False',
                     'scopes': "['mmdet', 'mmpretrain', 'mmseg']",
                     'registered': 'repl_mm.adapters.mmdet', 'once': 'True'}
