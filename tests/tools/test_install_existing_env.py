"""`pip install -e .` into an existing OpenMMLab environment leaves torch, torchvision and mmcv
alone (setup.py: install_requires is requirements/runtime.txt only).

The environment is a throwaway venv (no pip, no network) holding stub distributions of torch
2.2.0, torchvision 0.17.0, mmcv 2.2.0 (the prebuilt-wheel line mmdet 3.3 refuses) and mmengine
0.10.7, plus the shared venv's setuptools through a .pth file (to build repl_mm's metadata
offline). pip resolves with --no-index: had it wanted to change one of them, it would fail."""
import json
import os
import os.path as osp
import subprocess
import sys
import sysconfig

import pytest
import setuptools

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUBS = {'torch': '2.2.0', 'torchvision': '0.17.0', 'mmcv': '2.2.0', 'mmengine': '0.10.7',
         'numpy': '1.26.4'}


@pytest.fixture(scope='module')
def stub_env(tmp_path_factory) -> str:
    """The python of a venv with the stub distributions; returns its path."""
    tmp = tmp_path_factory.mktemp('existing_env')
    venv = tmp / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    py = str(venv / 'bin' / 'python')
    site = subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                          capture_output=True, text=True, check=True).stdout.strip()
    for name, version in STUBS.items():
        info = osp.join(site, f'{name}-{version}.dist-info')
        os.makedirs(info)
        with open(osp.join(info, 'METADATA'), 'w') as f:
            f.write(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')
        for extra in ('INSTALLER', 'RECORD'):
            open(osp.join(info, extra), 'w').close()
    # setuptools only (not the shared venv's torch/mmcv): links in a directory of its own
    build_site = tmp / 'build_site'
    build_site.mkdir()
    src_site = osp.dirname(osp.dirname(setuptools.__file__))
    for entry in os.listdir(src_site):
        if entry.split('-')[0] in ('setuptools', 'pkg_resources', '_distutils_hack'):
            os.symlink(osp.join(src_site, entry), build_site / entry)
    with open(osp.join(site, 'build_tools.pth'), 'w') as f:
        f.write(str(build_site) + '\n')
    assert sysconfig.get_path('purelib') != site
    return py


def _dry_run(py: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    report = tmp_path / 'report.json'
    return subprocess.run(
        [sys.executable, '-m', 'pip', '--python', py, 'install', '--isolated',
         '--disable-pip-version-check', '--dry-run', '--report', str(report), '--no-index',
         '--no-build-isolation', *args],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PIP_NO_INPUT='1'))


@pytest.mark.parametrize('extra_args', [[], ['--no-deps']])
def test_editable_install_leaves_torch_and_mmcv_alone(stub_env, tmp_path, extra_args):
    proc = _dry_run(stub_env, tmp_path, *extra_args, '-e', ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / 'report.json') as f:
        report = json.load(f)
    installs = [(i['metadata']['name'], i['metadata']['version']) for i in report['install']]
    assert installs == [('repl_mm', '0.1.0')]
    requires = report['install'][0]['metadata'].get('requires_dist', [])
    plain = [r for r in requires if 'extra ==' not in r]
    # no mmengine: pip would install OpenMMLab's over OneDL's onedl-mmengine (issue 21)
    assert sorted(r.split(';')[0].replace(' ', '') for r in plain) == ['numpy']


def test_mim_extra_carries_the_mmcv_range(stub_env, tmp_path):
    """The mmcv range moved to the ``mim`` extra: asking for it in an environment with mmcv 2.2
    makes pip want another mmcv (here: none reachable offline), so it is opt-in only."""
    proc = _dry_run(stub_env, tmp_path, '-e', f'{ROOT}[mim]')
    assert proc.returncode != 0
    assert 'mmcv<2.2.0,>=2.0.0rc4' in proc.stdout + proc.stderr
