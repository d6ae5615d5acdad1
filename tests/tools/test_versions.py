"""repl_mm/version.py is the one source of version ranges: requirements/*.txt, setup.py,
tools/install_env.sh, tools/install_onedl_env.sh, check_env's WARNING lines and
docs/compatibility.md agree with it; OneDL's fork is recognised from package metadata."""
import os.path as osp
import re
import subprocess
import sys

import pytest

from repl_mm import version
from repl_mm.testing.tools import load_tool
from repl_mm.utils import envcheck

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _read(*parts):
    with open(osp.join(ROOT, *parts)) as f:
        return f.read()


@pytest.mark.parametrize('name', list(version.REQUIREMENT_FILES))
def test_requirement_files_are_generated(name):
    assert _read('requirements', f'{name}.txt') == version.requirement_text(name), (
        f'requirements/{name}.txt differs from repl_mm/version.py: run '
        '`python repl_mm/version.py requirements --write`')


def test_mmengine_range_admits_the_matrix():
    assert version.requirement('mmengine') == 'mmengine>=0.10.4,<1.0.0'
    assert 'mmengine>=0.10.4,<1.0.0' in _read('requirements', 'mminstall.txt')
    # install_requires never names mmengine: pip would put OpenMMLab's over onedl-mmengine
    assert version.requirement_text('runtime').splitlines()[-1] == 'numpy'
    t = version.OPENMMLAB['mmengine']
    assert (t.low, t.high) == ('0.10.4', '0.10.7')
    assert set(version.MMENGINE_CELLS) | {version.PINNED_STACK['mmengine']} == \
        {'0.10.4', '0.10.5', '0.10.6', '0.10.7'}


def test_setup_py_reads_version_py():
    proc = subprocess.run([sys.executable, 'setup.py', '--version'], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == version.__version__, proc.stderr[-2000:]
    src = _read('setup.py')
    assert 'python_requires=VERSIONS.PYTHON.requires' in src


def test_package_version_is_version_py():
    import repl_mm
    assert repl_mm.__version__ == version.__version__


def test_version_py_is_stdlib_only_and_runs_by_path():
    path = osp.join(ROOT, 'repl_mm', 'version.py')
    code = ('import runpy, sys\n'
            'sys.argv = ["version.py", "pins", "onedl"]\n'
            'try:\n'
            f'    runpy.run_path({path!r}, run_name="__main__")\n'
            'except SystemExit as e:\n'
            '    assert not e.code, e.code\n'
            'print(sorted(m for m in ("torch", "numpy", "mmengine", "repl_mm") '
            'if m in sys.modules))\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[:-1] == version.pins('onedl') and lines[-1] == '[]'
    assert 'onedl-mmengine==0.10.12' in lines and 'onedl-mmcv==2.3.6' in lines


def test_install_script_pins_are_version_py():
    src = _read('tools', 'install_env.sh')
    pins = dict(re.findall(r'\b([a-z][a-z0-9_-]*)==([0-9][0-9.]*)\b', src))
    for dist, v in version.PINNED_STACK.items():
        assert pins.get(dist) == v, (dist, pins.get(dist), v)
    assert 'repl_mm/version.py" pins onedl' in _read('tools', 'install_onedl_env.sh')


def test_pins_lie_in_the_tested_ranges():
    for stack in (version.PINNED_STACK, version.ONEDL_STACK):
        for dist, v in stack.items():
            t = version.tested_range(dist)
            assert envcheck.parse_version(t.low) <= envcheck.parse_version(v) <= \
                envcheck.parse_version(t.high), (dist, v, t)
    with pytest.raises(KeyError, match="dist: 'mmfoo' has no tested range"):
        version.tested_range('mmfoo')
    with pytest.raises(ValueError, match="stack: 'x' is not one of pinned, onedl"):
        version.pins('x')


# ---------------------------------------------------------------- check_env warnings

ONEDL = {'torch': [('torch', '2.14.1')], 'numpy': [('numpy', '2.4.6')],
         'mmengine': [('onedl-mmengine', '0.10.12')], 'mmcv': [('onedl-mmcv', '2.3.6')],
         'mmdet': [('onedl-mmdetection', '3.5.1')],
         'mmsegmentation': [('onedl-mmsegmentation', '1.4.2')],
         'mmpretrain': [('onedl-mmpretrain', '1.3.6')]}
PINNED = {'torch': [('torch', '2.13.0')], 'numpy': [('numpy', '1.26.4')],
          'mmengine': [('mmengine', '0.10.7')], 'mmcv': [('mmcv', '2.1.0')],
          'mmdet': [('mmdet', '3.3.0')], 'mmsegmentation': [('mmsegmentation', '1.2.2')],
          'mmpretrain': [('mmpretrain', '1.2.0')]}


def _versions(dists):
    return {k: v[0][1] if v else None for k, v in dists.items()}


@pytest.mark.parametrize('stack', [PINNED, ONEDL], ids=['pinned', 'onedl'])
def test_tested_stacks_give_no_warning_and_no_problem(stack):
    assert envcheck.tested_warnings(stack) == []
    assert envcheck.duplicate_problems(stack) == []
    assert envcheck.version_problems(_versions(stack), envcheck.onedl_names(stack)) == []
    for v in version.MMENGINE_CELLS:
        assert envcheck.tested_warnings(dict(PINNED, mmengine=[('mmengine', v)])) == []


def test_untested_version_is_one_warning_naming_package_range_and_fix():
    (line, ) = envcheck.tested_warnings(dict(PINNED, mmengine=[('mmengine', '0.10.3')]))
    assert line.startswith('mmengine 0.10.3 is outside the tested range 0.10.4..0.10.7 ')
    assert 'fix: pip install "mmengine>=0.10.4,<=0.10.7"' in line
    (line, ) = envcheck.tested_warnings(dict(ONEDL, mmcv=[('onedl-mmcv', '2.3.7')]))
    assert line.startswith('onedl-mmcv 2.3.7 is outside the tested range 2.3.6 ')
    assert 'fix: pip install "onedl-mmcv==2.3.6"' in line


def test_mixed_families_warn_and_duplicates_are_problems():
    mixed = dict(PINNED, mmengine=[('onedl-mmengine', '0.10.12')])
    (line, ) = envcheck.tested_warnings(mixed)
    assert line.startswith('OpenMMLab and OneDL packages are mixed (onedl-mmengine 0.10.12, '
                           'mmcv 2.1.0')
    both = dict(PINNED, mmcv=[('mmcv', '2.1.0'), ('onedl-mmcv', '2.3.6')])
    (line, ) = envcheck.duplicate_problems(both)
    assert line.startswith('mmcv is installed twice (mmcv 2.1.0, onedl-mmcv 2.3.6)')
    assert line.endswith('fix: pip uninstall -y mmcv onedl-mmcv and reinstall the one you want')


def test_toolbox_asserts_follow_the_distribution():
    """OpenMMLab's mmdet 3.3 refuses mmcv 2.3 (its own assert would stop the import); OneDL's
    fork accepts it. Only these are errors (at import and in check_env)."""
    v = dict(_versions(PINNED), mmcv='2.3.6')
    assert [p.split(';')[0] for p in envcheck.version_problems(v)] == [
        'mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0 but mmcv 2.3.6 is installed',
        'mmsegmentation 1.2.2 needs mmcv>=2.0.0rc4,<2.2.0 but mmcv 2.3.6 is installed']
    forks = ['mmdet', 'mmsegmentation', 'mmpretrain']
    assert envcheck.version_problems(_versions(ONEDL), forks) == []
    (line, ) = envcheck.version_problems(dict(_versions(ONEDL), mmcv='2.4.0'), forks)
    assert line.startswith('mmpretrain 1.3.6 needs mmcv>=2.0.0,<2.4.0 but mmcv 2.4.0')


def test_installed_distributions_reads_metadata_of_both_families(monkeypatch):
    have = {'onedl-mmengine': '0.10.12', 'mmcv': '2.1.0', 'numpy': '2.4.6'}

    def fake_version(name):
        if name not in have:
            raise envcheck.metadata.PackageNotFoundError(name)
        return have[name]
    monkeypatch.setattr(envcheck.metadata, 'version', fake_version)
    dists = envcheck.installed_distributions()
    assert dists['mmengine'] == [('onedl-mmengine', '0.10.12')]
    assert dists['mmcv'] == [('mmcv', '2.1.0')] and dists['mmdet'] == []
    assert envcheck.installed_versions()['mmengine'] == '0.10.12'
    assert envcheck.onedl_names(dists) == ['mmengine']


@pytest.fixture(scope='module')
def check_env():
    return load_tool('repl_mm/cli/check_env.py')


def test_check_env_prints_warning_lines_and_keeps_exit_status(check_env):
    stack = dict(ONEDL, mmengine=[('onedl-mmengine', '0.10.13')])
    found = check_env.check_openmmlab(_versions(stack), stack) + check_env.check_tested(stack)
    assert not any(f.problem for f in found)
    assert [f.text for f in found if f.label == 'mmengine'] == ['0.10.13 (onedl-mmengine)']
    report = check_env.report(found).splitlines()
    (warning, ) = [line for line in report if line.startswith('WARNING')]
    assert warning.startswith('WARNING: onedl-mmengine 0.10.13 is outside the tested range '
                              '0.10.12 (docs/compatibility.md); fix: pip install '
                              '"onedl-mmengine==0.10.12"')
    assert report[-1] == 'OK: everything the installed toolboxes need works.'


def test_compatibility_doc_lists_the_pins():
    doc = _read('docs', 'compatibility.md')
    for stack in (version.PINNED_STACK, version.ONEDL_STACK):
        for dist, v in stack.items():
            assert f'{dist}=={v}' in doc, f'docs/compatibility.md lacks {dist}=={v}'
    for v in version.MMENGINE_CELLS:
        assert f'mmengine=={v}' in doc


def test_matrix_subset_entries_exist():
    """Every line of tests/matrix_subset.txt (the subset of the non-pinned matrix cells) names
    an existing test file; `a | b` alternatives: at least one."""
    seen = 0
    for line in _read('tests', 'matrix_subset.txt').splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        options = [o.strip() for o in line.split('|')]
        assert any(osp.exists(osp.join(ROOT, o.split('::', 1)[0])) for o in options), options
        seen += 1
    assert seen >= 10
