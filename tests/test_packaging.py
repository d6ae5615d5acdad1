"""mim-style packaging (issue 22): every config is in configs/metafile.yml (model-index.yml
imports it), setup.py puts configs/tools/model-index.yml into repl_mm/.mim and MANIFEST.in
ships them."""
import os
import os.path as osp
import re
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _configs():
    out = []
    for dirpath, _, files in os.walk(osp.join(ROOT, 'configs')):
        rel = osp.relpath(dirpath, ROOT)
        if '_base_' in rel.split(os.sep):
            continue
        out += [osp.join(rel, f).replace(os.sep, '/') for f in files if f.endswith('.py')]
    return sorted(out)


def test_metafile_lists_every_config_once():
    text = open(osp.join(ROOT, 'configs', 'metafile.yml')).read()
    listed = re.findall(r'^\s+Config: (\S+)$', text, re.M)
    assert len(listed) == len(set(listed))
    assert sorted(listed) == _configs()
    names = re.findall(r'^\s+- Name: (\S+)$', text, re.M)
    assert len(names) == len(set(names))
    assert open(osp.join(ROOT, 'model-index.yml')).read().split() == [
        'Import:', '-', 'configs/metafile.yml']


def test_manifest_ships_the_mim_folder():
    text = open(osp.join(ROOT, 'MANIFEST.in')).read()
    for line in ('include repl_mm/.mim/model-index.yml',
                 'recursive-include repl_mm/.mim/configs *.py *.yml',
                 'recursive-include repl_mm/.mim/tools *.sh *.py'):
        assert line in text


def test_add_mim_extension_symlinks_for_develop(tmp_path):
    """setup.py's add_mim_extension on a copy of the checkout: ``develop`` links configs,
    tools and model-index.yml into repl_mm/.mim; without an install command nothing happens."""
    root = tmp_path / 'repo'
    (root / 'repl_mm').mkdir(parents=True)
    (root / 'configs').mkdir()
    (root / 'configs' / 'a.py').write_text('x = 1\n')
    (root / 'tools').mkdir()
    (root / 'model-index.yml').write_text('Import: []\n')
    src = open(osp.join(ROOT, 'setup.py')).read()
    fn = src[src.index('def add_mim_extension'):src.index('\n\n\nEXTRAS')]
    script = ('import os, os.path as osp, platform, shutil, sys, warnings\n'
              f'HERE = {str(root)!r}\n' + fn + '\nadd_mim_extension()\n')
    subprocess.run([sys.executable, '-c', script, 'egg_info'], check=True)
    assert not (root / 'repl_mm' / '.mim').exists()
    subprocess.run([sys.executable, '-c', script, 'develop'], check=True)
    mim = root / 'repl_mm' / '.mim'
    assert os.path.islink(mim / 'configs') and (mim / 'configs' / 'a.py').read_text() == 'x = 1\n'
    assert os.path.islink(mim / 'tools') and os.path.islink(mim / 'model-index.yml')


def _console_scripts():
    """setup.py's CONSOLE_SCRIPTS, read with ast (setup.py is not executed)."""
    import ast
    tree = ast.parse(open(osp.join(ROOT, 'setup.py')).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == \
                'CONSOLE_SCRIPTS':
            return ast.literal_eval(node.value)
    raise AssertionError('setup.py defines no CONSOLE_SCRIPTS')


def test_every_console_script_resolves_to_a_callable():
    import importlib
    scripts = _console_scripts()
    names = [s.split('=')[0].strip() for s in scripts]
    assert {'repl-mm-train', 'repl-mm-test', 'repl-mm-check-env', 'repl-mm-convert',
            'repl-mm-reparameterize', 'repl-mm-export-onnx', 'repl-mm-quantize'} <= set(names)
    assert len(names) == len(set(names))
    src = open(osp.join(ROOT, 'setup.py')).read()
    assert "entry_points={'console_scripts': CONSOLE_SCRIPTS}" in src
    assert "py_modules=['repl_mm_launch']" in src
    for line in scripts:
        name, target = (p.strip() for p in line.split('='))
        module, attr = target.split(':')
        assert callable(getattr(importlib.import_module(module), attr)), line


def test_console_train_checks_the_data_before_importing_repl_mm(tmp_path):
    """repl-mm-train (``repl_mm_launch:train``): missing data is exit 1 with the data check's
    block, and neither repl_mm nor torch has been imported; ``tools/check_env.py``'s entry
    finds the package without importing it either."""
    config = osp.join(ROOT, 'configs', 'vit-tiny-p8_repl_stl10.py')
    code = ('import sys, repl_mm_launch\n'
            'assert repl_mm_launch.package_dir().endswith("repl_mm")\n'
            'try:\n'
            f'    repl_mm_launch.train([{config!r}])\n'
            'except SystemExit as e:\n'
            '    print("exit", e.code, "torch" in sys.modules, "repl_mm" in sys.modules)\n')
    env = {k: v for k, v in os.environ.items() if k not in ('RANK', 'LOCAL_RANK')}
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == 'exit 1 False False', proc.stdout + \
        proc.stderr
    assert f'{tmp_path}/data/stl10/: the data_root folder does not exist' in proc.stderr
