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
