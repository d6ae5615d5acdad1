"""repl_mm.utils.envcheck: the decisions of `make install` on GPU machines, the toolboxes' version
ranges and the CPU-launch refusal, driven on CPU with fake nvidia-smi / nvcc on PATH, a fake
torch probe and stub mmcv modules."""
import os
import os.path as osp
import subprocess
import sys
import types

import pytest
from fake_cuda import A100, H100, fake_nvcc, fake_nvidia_smi

from repl_mm.utils import envcheck
from repl_mm.utils.envcheck import (
    EnvironmentProblem,
    GpuProbe,
    IncompatibleVersionsError,
    arch_list,
    check_versions,
    cuda_build_problems,
    find_nvcc,
    in_range,
    mmcv_rebuild_reason,
    mmcv_state,
    nvcc_version,
    ops_mode,
    parse_version,
    probe_gpus,
    torch_reinstall_needed,
    version_problems,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ENVCHECK = osp.join(ROOT, 'repl_mm', 'utils', 'envcheck.py')
TORCH_OK = dict(version='2.13.0+cu130', cuda='13.0', available=True, capabilities=['9.0'],
                names=['NVIDIA H100 80GB HBM3'])


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    """A PATH whose first entry is an empty bin directory for fake tools; no CUDA_HOME."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin')
    for var in ('CUDA_HOME', 'CUDA_PATH', 'FORCE_CUDA', 'TORCH_CUDA_ARCH_LIST'):
        monkeypatch.delenv(var, raising=False)
    return bin_dir


# ---------------------------------------------------------------- versions


def test_parse_version_order():
    order = ['2.0.0rc1', '2.0.0rc4', '2.0.0', '2.0.1', '2.1.0', '2.1.0.post1', '2.2.0', '10.0']
    keys = [parse_version(v) for v in order]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert parse_version('2.13.0+cu130') == parse_version('2.13.0')
    assert in_range('2.1.0', '2.0.0rc4', '2.2.0') and not in_range('2.2.0', '2.0.0rc4', '2.2.0')
    assert in_range('2.0.0rc4', '2.0.0rc4', '2.2.0')
    assert not in_range('2.0.0rc3', '2.0.0rc4', '2.2.0')
    with pytest.raises(ValueError, match="version: cannot parse 'abc'"):
        parse_version('abc')


def test_mmdet_with_mmcv_22_is_refused():
    versions = dict(mmcv='2.2.0', mmengine='0.10.7', mmdet='3.3.0', mmsegmentation='1.2.2',
                    mmpretrain='1.2.0')
    problems = version_problems(versions)
    assert [p.split(';')[0] for p in problems] == [
        'mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0 but mmcv 2.2.0 is installed',
        'mmsegmentation 1.2.2 needs mmcv>=2.0.0rc4,<2.2.0 but mmcv 2.2.0 is installed']
    assert all('fix: install mmcv 2.1.0' in p for p in problems)
    with pytest.raises(IncompatibleVersionsError, match='mmdet 3.3.0 needs mmcv') as e:
        check_versions(versions)
    assert isinstance(e.value, ImportError) and 'tools/check_env.py' in str(e.value)


def test_version_problems_other_cases():
    # mmpretrain alone accepts mmcv 2.2 and 2.3
    assert version_problems(dict(mmcv='2.2.0', mmengine='0.10.7', mmpretrain='1.2.0')) == []
    # no toolbox: nothing to check
    assert version_problems(dict(mmcv=None, mmengine=None)) == []
    missing = version_problems(dict(mmcv=None, mmengine='1.0.0', mmdet='3.3.0'))
    assert [p.split(';')[0] for p in missing] == [
        'mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0 but mmcv is not installed',
        'mmdet 3.3.0 needs mmengine>=0.7.1,<1.0.0 but mmengine 1.0.0 is installed']
    assert missing[1].endswith('fix: `pip install "mmengine>=0.7.1,<1.0.0"`')
    check_versions(dict(mmcv='2.1.0', mmengine='0.10.7', mmdet='3.3.0'))  # no raise


def test_ranges_are_the_toolboxes_own():
    """TOOLBOX_RANGES copies each installed toolbox's __init__ constants."""
    checked = 0
    for dist, module, names in (
            ('mmdet', 'mmdet', ('mmcv_minimum_version', 'mmcv_maximum_version',
                                'mmengine_minimum_version', 'mmengine_maximum_version')),
            ('mmsegmentation', 'mmseg', ('MMCV_MIN', 'MMCV_MAX', 'MMENGINE_MIN',
                                         'MMENGINE_MAX')),
            ('mmpretrain', 'mmpretrain', ('mmcv_minimum_version', 'mmcv_maximum_version',
                                          'mmengine_minimum_version',
                                          'mmengine_maximum_version'))):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        ranges = envcheck.TOOLBOX_RANGES[dist]
        assert (ranges['mmcv'], ranges['mmengine']) == (
            (getattr(mod, names[0]), getattr(mod, names[1])),
            (getattr(mod, names[2]), getattr(mod, names[3]))), dist
        checked += 1
    assert checked >= 1


def test_installed_stack_passes():
    check_versions()  # the .venv's own stack


# ---------------------------------------------------------------- GPU, nvcc


def test_probe_without_nvidia_smi(fake_path):
    assert probe_gpus() == GpuProbe(False, [], None, None)


def test_probe_lists_gpus(fake_path):
    fake_nvidia_smi(fake_path, gpus=(H100, A100), driver_cuda='12.9')
    assert probe_gpus() == GpuProbe(True, [H100, A100], '12.9', None)


def test_probe_old_driver_without_compute_cap(fake_path):
    fake_nvidia_smi(fake_path, no_compute_cap=True)
    probe = probe_gpus()
    assert probe.gpus == [H100._replace(compute_cap=None)] and probe.error is None


def test_probe_failing_driver(fake_path):
    fake_nvidia_smi(fake_path, fail="NVIDIA-SMI has failed because it couldn't communicate "
                    'with the NVIDIA driver.')
    probe = probe_gpus()
    assert probe.present and probe.gpus == [] and probe.error.startswith('NVIDIA-SMI has failed')


def test_ops_mode():
    none = GpuProbe(False, [], None, None)
    gpu = GpuProbe(True, [H100], '12.9', None)
    broken = GpuProbe(True, [], None, 'NVIDIA-SMI has failed')
    assert ops_mode(None, none) == 'cpu'  # this machine: as before
    assert ops_mode(None, gpu) == 'cuda'
    assert ops_mode('0', gpu) == 'cpu' and ops_mode('1', none) == 'cuda'
    assert ops_mode('0', broken) == 'cpu'
    with pytest.raises(EnvironmentProblem, match=r'nvidia-smi is installed but fails '
                       r'\(NVIDIA-SMI has failed\).*`FORCE_CUDA=0 make install`'):
        ops_mode(None, broken)
    with pytest.raises(EnvironmentProblem, match="FORCE_CUDA must be 1 .* got 'yes'"):
        ops_mode('yes', gpu)


def test_find_nvcc_and_version(fake_path, tmp_path):
    missing = str(tmp_path / 'no' / 'nvcc')
    assert find_nvcc(dict(PATH=str(fake_path)), fallback=missing) is None
    nvcc = fake_nvcc(fake_path, '12.4')
    assert find_nvcc(dict(PATH=str(fake_path)), fallback=missing) == nvcc
    assert nvcc_version(nvcc) == '12.4' and nvcc_version(None) is None
    home_nvcc = fake_nvcc(tmp_path / 'cuda-13.0' / 'bin', '13.0')
    env = dict(PATH=str(fake_path), CUDA_HOME=str(tmp_path / 'cuda-13.0'))
    assert find_nvcc(env, fallback=missing) == home_nvcc  # CUDA_HOME first, like torch
    # a CUDA_HOME without nvcc is what the build would use: reported missing
    assert find_nvcc(dict(env, CUDA_HOME=str(tmp_path / 'empty')), fallback=missing) is None


def test_arch_list():
    two = GpuProbe(True, [H100, A100, H100], None, None)
    assert arch_list(two, [], None) == '8.0;9.0'
    old = GpuProbe(True, [H100._replace(compute_cap=None)], None, None)
    assert arch_list(old, ['9.0'], None) == '9.0'  # from torch when the driver cannot say
    assert arch_list(two, [], '8.6+PTX') == '8.6+PTX'  # the user's wins
    assert arch_list(GpuProbe(False, [], None, None), [], None) == ''


GPU = GpuProbe(True, [H100], '12.9', None)


def test_cuda_build_ok():
    assert cuda_build_problems(GPU, '/cuda/bin/nvcc', '13.0', TORCH_OK, {}) == []


def test_torch_sees_no_gpu():
    torch = dict(TORCH_OK, available=False, capabilities=[], names=[])
    (msg, ) = cuda_build_problems(GPU, '/cuda/bin/nvcc', '13.0', torch,
                                  {'CUDA_VISIBLE_DEVICES': ''})
    assert msg == ('torch 2.13.0+cu130 (built for CUDA 13.0) sees no GPU although nvidia-smi '
                   'lists NVIDIA H100 80GB HBM3 (driver 575.57.08, supports CUDA up to 12.9): '
                   'the driver is likely older than CUDA 13.0 needs (CUDA 13.x: driver >= 580, '
                   "12.x: >= 525); CUDA_VISIBLE_DEVICES='' may hide them")


def test_cpu_only_torch():
    torch = dict(TORCH_OK, version='2.13.0+cpu', cuda=None, available=False)
    assert cuda_build_problems(GPU, None, None, torch, {}) == [
        'the installed torch 2.13.0+cpu is a CPU-only build (torch.version.cuda is None), so '
        'mmcv cannot get CUDA ops']


def test_nvcc_missing_and_mismatch():
    (missing, ) = cuda_build_problems(GPU, None, None, TORCH_OK, {})
    assert missing.startswith('nvcc (the CUDA compiler) was not found') and \
        'CUDA 13.x toolkit' in missing
    (mismatch, ) = cuda_build_problems(GPU, '/usr/local/cuda/bin/nvcc', '12.4', TORCH_OK, {})
    assert mismatch == ('nvcc /usr/local/cuda/bin/nvcc is CUDA 12.4 but torch 2.13.0+cu130 is '
                        'built for CUDA 13.0: the major versions must match; point CUDA_HOME at '
                        'a CUDA 13.x toolkit')
    # same major, other minor: fine (torch's extension builder accepts it)
    assert cuda_build_problems(GPU, '/x/nvcc', '13.1', TORCH_OK, {}) == []


# ---------------------------------------------------------------- mmcv


def _state(version='2.1.0', ops=True, cuda='13.0', error=None):
    return dict(version=version, ops=ops, cuda=cuda, error=error)


def test_mmcv_rebuild_reason():
    assert mmcv_rebuild_reason(_state(), 'cuda', '13.0') is None
    assert mmcv_rebuild_reason(_state(cuda='not available'), 'cpu', None) is None
    assert mmcv_rebuild_reason(_state(cuda='not available'), 'cuda', '13.0') == \
        'the installed mmcv has CPU-only ops (compiled without CUDA)'
    assert mmcv_rebuild_reason(_state(cuda='12.4'), 'cuda', '13.0') == \
        'mmcv ops were compiled with CUDA 12.4, torch uses CUDA 13.0'
    assert mmcv_rebuild_reason(_state(version=None, ops=False), 'cpu', None) == \
        'mmcv is not installed'
    assert mmcv_rebuild_reason(_state(version='2.2.0'), 'cpu', None) == \
        'mmcv 2.2.0 is installed, 2.1.0 is needed'
    assert mmcv_rebuild_reason(_state(ops=False, error='ImportError: _ext'), 'cpu', None) == \
        'mmcv.ops does not load (ImportError: _ext)'


@pytest.fixture
def stub_mmcv(monkeypatch):
    """Stub ``mmcv`` / ``mmcv.ops`` modules; returns the ops module to configure."""
    mmcv = types.ModuleType('mmcv')
    mmcv.__version__ = '2.1.0'
    ops = types.ModuleType('mmcv.ops')
    ops.get_compiling_cuda_version = lambda: 'not available'
    mmcv.ops = ops
    monkeypatch.setitem(sys.modules, 'mmcv', mmcv)
    monkeypatch.setitem(sys.modules, 'mmcv.ops', ops)
    return ops


def test_mmcv_state_of_stub(stub_mmcv):
    assert mmcv_state() == _state(cuda='not available')
    stub_mmcv.get_compiling_cuda_version = lambda: '13.0'
    assert mmcv_state()['cuda'] == '13.0'


def test_torch_reinstall_needed():
    url = 'https://download.pytorch.org/whl/cu126'
    assert torch_reinstall_needed(None, url)
    assert torch_reinstall_needed('2.13.0', url)  # the registry build: no label
    assert torch_reinstall_needed('2.13.0+cu130', url)
    assert not torch_reinstall_needed('2.13.0+cu126', url + '/')


# ---------------------------------------------------------------- the command line


def _main(capsys, *args):
    rc = envcheck.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_plan(fake_path, monkeypatch, capsys):
    fake_nvidia_smi(fake_path, gpus=(H100, A100))
    fake_nvcc(fake_path, '13.0')
    monkeypatch.setattr(envcheck, 'torch_info', lambda: TORCH_OK)
    monkeypatch.setattr(envcheck, 'find_nvcc', lambda env: find_nvcc(env, '/nonexistent'))
    assert _main(capsys, 'plan') == (0, '8.0;9.0\n', '')
    fake_nvcc(fake_path, '12.4')
    rc, out, err = _main(capsys, 'plan')
    assert (rc, out) == (2, '')
    lines = err.strip().splitlines()
    assert lines[0].startswith('install: STOP -- nvcc ') and 'is CUDA 12.4' in lines[0]
    assert lines[1].startswith('Ways out: (1) a torch build for this machine\'s CUDA: '
                               '`TORCH_INDEX_URL=https://download.pytorch.org/whl/cuXYZ')
    assert '`pip install -e . --no-deps`' in lines[1]


def test_cli_mmcv_rebuild_and_verify(monkeypatch, capsys, stub_mmcv):
    torch = pytest.importorskip('torch')
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert _main(capsys, 'mmcv-rebuild', 'cpu') == (1, '', '')
    assert _main(capsys, 'mmcv-rebuild', 'cuda') == (
        0, 'the installed mmcv has CPU-only ops (compiled without CUDA)\n', '')
    rc, out, err = _main(capsys, 'verify', 'cuda')
    assert rc == 2 and err.startswith('install: STOP -- after the build: the installed mmcv '
                                      'has CPU-only ops')
    stub_mmcv.get_compiling_cuda_version = lambda: '13.0'
    assert _main(capsys, 'verify', 'cuda') == (
        0, 'install: mmcv 2.1.0 ops compiled with CUDA: 13.0\n', '')


def _run_file(args, env):
    return subprocess.run([sys.executable, ENVCHECK] + args, capture_output=True, text=True,
                          env=env, timeout=120)


def test_file_mode_command(fake_path):
    """What install_env.sh runs first, by path, with no torch import."""
    env = dict(os.environ)
    assert _run_file(['mode'], env).stdout == 'cpu\n'
    fake_nvidia_smi(fake_path)
    assert _run_file(['mode'], env).stdout == 'cuda\n'
    assert _run_file(['mode'], dict(env, FORCE_CUDA='0')).stdout == 'cpu\n'
    fake_nvidia_smi(fake_path, fail='NVIDIA-SMI has failed because it could not communicate')
    proc = _run_file(['mode'], env)
    assert proc.returncode == 2 and proc.stdout == ''
    assert proc.stderr.startswith('install: STOP -- nvidia-smi is installed but fails')
    proc = _run_file(['bogus'], env)
    assert proc.returncode == 64 and proc.stderr.startswith('usage: envcheck.py mode')


def test_no_build_skips_nvcc():
    assert cuda_build_problems(GPU, None, None, TORCH_OK, {}, building=False) == []
    torch = dict(TORCH_OK, available=False)
    assert len(cuda_build_problems(GPU, None, None, torch, {}, building=False)) == 1


def test_cli_mmcv_rebuild_for_another_version_and_without_torch(monkeypatch, capsys, stub_mmcv):
    """`mmcv-rebuild MODE VERSION` (install_onedl_env.sh: onedl-mmcv's version); exit 1 means
    "keep this mmcv", so a torch that does not import says "rebuild" with the reason."""
    torch = pytest.importorskip('torch')
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    assert _main(capsys, 'mmcv-rebuild', 'cpu', '2.1.0') == (1, '', '')
    assert _main(capsys, 'mmcv-rebuild', 'cpu', '2.3.6') == (
        0, 'mmcv 2.1.0 is installed, 2.3.6 is needed\n', '')
    stub_mmcv.get_compiling_cuda_version = lambda: '13.0'
    monkeypatch.setattr(sys.modules['mmcv'], '__version__', '2.3.6')
    assert _main(capsys, 'mmcv-rebuild', 'cuda', '2.3.6') == (1, '', '')
    monkeypatch.setitem(sys.modules, 'torch', None)  # `import torch` raises ImportError
    rc, out, _ = _main(capsys, 'mmcv-rebuild', 'cpu', '2.3.6')
    assert rc == 0 and out.startswith('torch does not import (ModuleNotFoundError: ')
