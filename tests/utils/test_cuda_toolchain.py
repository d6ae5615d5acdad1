"""repl_mm/utils/cuda_toolchain.py: the route choice (system / pip nvcc) and its refusals, the
CUDA_HOME assembled from the compiler wheels, the cuobjdump listing checks, and -- where the
nvcc wheels are installed (``make install`` installs them) -- the smoke extension compiled
for real and its cubins checked (issue 24 item 3)."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from repl_mm.utils import cuda_toolchain as ct

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'repl_mm' / 'utils' / 'cuda_toolchain.py'

LIST_ELF = '''ELF file    1: _ext.1.sm_80.cubin
ELF file    2: _ext.2.sm_90.cubin
ELF file    3: _ext.3.sm_80.cubin
ELF file    4: _ext.4.sm_90.cubin
ELF file    5: _ext.5.sm_90a.cubin
'''


def fake_nvcc(path: Path, release: str, codes: str = 'sm_75 sm_80 sm_86 sm_90 sm_100') -> Path:
    """An executable that answers like nvcc: --version, --list-gpu-code, --dryrun -v."""
    path.parent.mkdir(parents=True, exist_ok=True)
    top = path.parent.parent
    path.write_text(f'''#!/bin/sh
case "$1" in
  --version) echo "Cuda compilation tools, release {release}, V{release}.1";;
  --list-gpu-code) for c in {codes}; do echo $c; done;;
  --dryrun) echo "#\\$ _HERE_={path.parent}" >&2; echo "#\\$ TOP={top}" >&2;;
esac
''')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def wheel_tree(sp: Path, release: str = '13.0') -> Path:
    """A fake ``site-packages/nvidia/cu13`` tree as the CUDA 13 wheels lay it out."""
    root = sp / 'nvidia' / 'cu13'
    fake_nvcc(root / 'bin' / 'nvcc', release)
    (root / 'include').mkdir(parents=True)
    for h in ('cuda_runtime.h', 'cublas_v2.h', 'cusparse.h', 'cusolverDn.h'):
        (root / 'include' / h).write_text('')
    (root / 'lib').mkdir()
    (root / 'lib' / 'libcudart.so.13').write_text('')
    (root / 'lib' / 'libcublas.so.13').write_text('')
    (root / 'nvvm' / 'bin').mkdir(parents=True)
    return root


def test_arch_list_default_valid_and_refused():
    assert ct.parse_arch_list(None) == ['8.0', '9.0']
    assert ct.parse_arch_list('8.0 9.0a+PTX') == ['8.0', '9.0a+PTX']
    assert [ct.cubin_arch(e) for e in ('8.0', '9.0a+PTX', '12.0')] == ['sm_80', 'sm_90a',
                                                                       'sm_120']
    with pytest.raises(ct.ToolchainError, match=r"TORCH_CUDA_ARCH_LIST='8.0;Ampere': Ampere"):
        ct.parse_arch_list('8.0;Ampere')


def test_cuobjdump_listing_counts_and_missing_arch():
    counts = ct.elf_counts(LIST_ELF)
    assert counts == {'sm_80': 2, 'sm_90': 2, 'sm_90a': 1}
    assert ct.missing_archs(['8.0', '9.0'], counts) == []
    assert ct.missing_archs(['8.0', '8.6', '10.0'], counts) == ['8.6 (no sm_86 cubin)',
                                                                '10.0 (no sm_100 cubin)']
    assert ct.missing_archs(['9.0+PTX'], counts, ct.ptx_counts('PTX file 1: a.sm_80.ptx')) \
        == ['9.0+PTX (no sm_90 PTX)']
    assert ct.unsupported_archs(['7.0', '8.0', '9.0a'], ['sm_75', 'sm_80', 'sm_90']) == ['7.0']


def test_compiler_specs_follow_torch_cuda():
    assert ct.compiler_wheel_specs('13.0', '13.0.3.0') == ['cuda-toolkit[nvcc,cccl]==13.0.3.0']
    assert ct.compiler_wheel_specs('12.6', None) == ['nvidia-cuda-nvcc-cu12==12.6.*',
                                                     'nvidia-cuda-cccl-cu12==12.6.*']
    # a cuda-toolkit of another major (left from an older torch) is not used
    assert ct.compiler_wheel_specs('13.0', '12.8.0')[0] == 'nvidia-cuda-nvcc==13.0.*'


def test_assembled_cuda_home_has_lib64_and_unversioned_cudart(tmp_path):
    sp = tmp_path / 'sp'
    wheel_tree(sp)
    home = Path(ct.assemble_cuda_home(ct.wheel_roots(str(sp)), str(tmp_path / 'home')))
    assert os.path.realpath(home / 'lib64' / 'libcudart.so') == \
        os.path.realpath(sp / 'nvidia' / 'cu13' / 'lib' / 'libcudart.so.13')
    assert (home / 'lib64' / 'libcublas.so').exists()
    assert (home / 'bin' / 'nvcc').exists() and (home / 'include' / 'cublas_v2.h').exists()
    assert (home / 'nvvm' / 'bin').is_dir()
    ct.assemble_cuda_home(ct.wheel_roots(str(sp)), str(home))  # its own: replaced
    other = tmp_path / 'mine'
    other.mkdir()
    (other / 'data.txt').write_text('keep')
    with pytest.raises(ct.ToolchainError, match='was not made by this tool'):
        ct.assemble_cuda_home(ct.wheel_roots(str(sp)), str(other))
    assert (other / 'data.txt').read_text() == 'keep'


def _env(tmp_path, system_release=None):
    bin_dir = tmp_path / 'sysbin'
    bin_dir.mkdir()
    if system_release:
        fake_nvcc(tmp_path / 'cuda-sys' / 'bin' / 'nvcc', system_release)
        (bin_dir / 'nvcc').symlink_to(tmp_path / 'cuda-sys' / 'bin' / 'nvcc')
    return {'PATH': f'{bin_dir}:/usr/bin:/bin'}


def test_system_nvcc_of_another_major_is_refused_with_both_versions_and_fixes(tmp_path):
    env = _env(tmp_path, '12.4')
    with pytest.raises(ct.ToolchainError) as e:
        ct.make_plan('system', env, str(tmp_path / 'sp'), '2.13.0+cu130', '13.0',
                     str(tmp_path / 'home'))
    msg = str(e.value)
    assert 'CUDA 12.4' in msg and 'CUDA 13.0' in msg and '2.13.0+cu130' in msg
    assert 'CUDA_FROM=pip make cuda-build' in msg and 'whl/cu124' in msg


def test_unset_route_falls_back_to_pip_and_system_is_used_when_it_matches(tmp_path):
    sp = tmp_path / 'sp'
    wheel_tree(sp)
    plan = ct.make_plan(None, _env(tmp_path, '12.4'), str(sp), '2.13.0', '13.0',
                        str(tmp_path / 'home'))
    assert plan.route == 'pip' and plan.release == '13.0'
    assert plan.env['CUDA_HOME'] == str(tmp_path / 'home')
    assert 'system nvcc' in plan.reason and '12.4' in plan.reason
    assert plan.env['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0'

    sys_dir = tmp_path / 'm'
    sys_dir.mkdir()
    plan = ct.make_plan(None, _env(sys_dir, '13.2'), str(sp), '2.13.0', '13.0',
                        str(tmp_path / 'home'))
    # the real toolkit folder from nvcc's own TOP, not dirname(dirname(PATH's nvcc))
    assert plan.route == 'system' and plan.cuda_home == str(sys_dir / 'cuda-sys')


def test_bad_route_cpu_torch_and_unbuildable_arch_are_one_line_each(tmp_path):
    sp = tmp_path / 'sp'
    wheel_tree(sp)
    home = str(tmp_path / 'home')
    with pytest.raises(ct.ToolchainError, match=r"CUDA_FROM='conda': allowed values"):
        ct.make_plan('conda', {}, str(sp), '2.13.0', '13.0', home)
    with pytest.raises(ct.ToolchainError, match='CPU-only build'):
        ct.make_plan('pip', {}, str(sp), '2.13.0+cpu', None, home)
    with pytest.raises(ct.ToolchainError, match=r'cannot build 7\.0'):
        ct.make_plan('pip', {'TORCH_CUDA_ARCH_LIST': '7.0;8.0'}, str(sp), '2.13.0', '13.0',
                     home)
    with pytest.raises(ct.ToolchainError, match='nvcc wheels are not installed'):
        ct.make_plan('pip', {}, str(tmp_path / 'empty'), '2.13.0', '13.0', home)


def test_warning_kinds_counted():
    log = ('a.cu(3): warning #20012-D: "x" is deprecated\n'
           "b.h:9: warning: 'at::Tensor::type() const' is deprecated [-Wdeprecated]\n"
           "c.h:9: warning: 'at::Tensor::type() const' is deprecated [-Wdeprecated]\n"
           'warning: build_py: byte-compiling is disabled, skipping.\n')
    kinds = ct.count_warnings(log)
    assert sum(kinds.values()) == 3 and max(kinds.values()) == 2


def _nvcc_wheels_reason():
    try:
        import torch
    except ImportError:
        return 'torch is not installed'
    if torch.version.cuda is None:
        return f'torch {torch.__version__} is a CPU-only build'
    if ct.wheel_nvcc(ct.site_packages()) is None:
        return ('the CUDA compiler wheels are not installed in this environment (`make install` '
                'installs them unless REPL_MM_NVCC_WHEELS=0; or `pip install "$(python '
                'repl_mm/utils/cuda_toolchain.py specs)"`)')
    return None


@pytest.mark.skipif(_nvcc_wheels_reason() is not None, reason=str(_nvcc_wheels_reason()))
@pytest.mark.timeout(1200)
def test_smoke_extension_compiles_with_the_pip_toolchain_and_has_every_arch(tmp_path):
    """A CUDAExtension using ATen/cuda/CUDAContext.h, built with the CUDA_HOME assembled from
    the nvcc wheels: it imports, and cuobjdump lists exactly one cubin per requested arch and
    none other (about a minute on 2 cores)."""
    env = dict(os.environ, CUDA_FROM='pip', TORCH_CUDA_ARCH_LIST='8.0;9.0',
               CUDA_HOME_DIR=str(tmp_path / 'cuda_home'), MAX_JOBS='2')
    proc = subprocess.run([sys.executable, str(TOOL), 'smoke', '--workdir',
                           str(tmp_path / 'smoke')], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout[proc.stdout.index('{'):])
    assert out['route'] == 'pip' and out['release'].split('.')[0] == \
        __import__('torch').version.cuda.split('.')[0]
    assert out['cubins'] == {'sm_80': 1, 'sm_90': 1}
    assert out['missing'] == []
    assert out['run'] in ('imported (no GPU to run it)',) or out['run'].startswith('ran on')


def test_build_keeps_the_wheel_and_reuses_it(tmp_path, monkeypatch):
    """build_mmcv: the first call builds with the plan's toolchain into a folder named by
    torch/CUDA/nvcc/archs/Python and records it; the second reuses the wheel (no build)."""
    calls = []

    def fake_pip(args, env=None, log=None):
        calls.append((list(args), dict(env or {})))
        if args[0] == 'wheel':
            folder = args[args.index('-w') + 1]
            Path(folder, 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl').write_text('')
            text = '  [1/136] c++ a.cpp\n  [136/136] nvcc b.cu\nx.h:1: warning: unused\n'
            Path(log).write_text(text)
            return 0, text
        return 0, ''
    monkeypatch.setattr(ct, '_pip', fake_pip)
    monkeypatch.setattr(ct, 'torch_cuda', lambda: ('2.13.0+cu130', '13.0'))
    monkeypatch.setattr(ct, 'verify_mmcv', lambda entries, home, expected_version=None: dict(
        mmcv='2.1.0', compiled_cuda='13.0', cubins={'sm_80': 58, 'sm_90': 58}, problems=[]))
    plan = ct.Plan('pip', '/h/bin/nvcc', '13.0', '/h', ['8.0', '9.0'],
                   {'CUDA_HOME': '/h', 'TORCH_CUDA_ARCH_LIST': '8.0;9.0'}, 'CUDA_FROM=pip')
    monkeypatch.setattr(ct, 'nvcc_release_line', lambda nvcc: 'release 13.0, V13.0.88')
    rec = ct.build_mmcv(plan, str(tmp_path), {'PATH': '/usr/bin', 'MAX_JOBS': '2'})
    (wheel_call, wheel_env), (install_call, _) = calls
    assert wheel_call[0] == 'wheel' and '--no-build-isolation' in wheel_call
    assert wheel_call[-1] == 'mmcv==2.1.0' and '--no-binary' in wheel_call
    assert wheel_env['FORCE_CUDA'] == '1' and wheel_env['CUDA_HOME'] == '/h'
    assert wheel_env['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0' and wheel_env['MAX_JOBS'] == '2'
    assert install_call[:1] == ['install'] and '--force-reinstall' in install_call
    key = 'mmcv-2.1.0-torch2.13.0_cu130-cu13.0-nvcc13.0-sm80-90-py%d%d' % sys.version_info[:2]
    assert rec['wheel'].startswith(str(tmp_path / key))
    assert rec['ninja_steps'] == 136 and rec['reused'] is False and rec['warnings'] == {
        'unused': 1}
    saved = json.loads((tmp_path / key / 'record.json').read_text())
    assert saved['cubins'] == {'sm_80': 58, 'sm_90': 58}
    calls.clear()
    rec = ct.build_mmcv(plan, str(tmp_path), {})
    assert [c[0][0] for c in calls] == ['install'] and rec['reused'] is True
    assert rec['seconds'] == saved['seconds']  # the build's own record is kept


SETUP_PY = """extra = {'cxx': ['-std=c++14']}
if new_torch:
    extra['cxx'] = ['-std=c++17']
extra['nvcc'] += ['-std=c++17']
"""


def _sdist(tmp_path, name='onedl_mmcv-2.3.6'):
    """A source archive laid out like the registry's: one top folder with setup.py."""
    import tarfile
    src = tmp_path / 'pkg' / name
    src.mkdir(parents=True)
    (src / 'setup.py').write_text(SETUP_PY)
    archive = tmp_path / f'{name}.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(src, arcname=name)
    return archive


def test_package_spec_key_and_refusal():
    """build --package: mmcv or onedl-mmcv with an exact version; the wheel folder names it."""
    assert ct.split_package('onedl-mmcv==2.3.6') == ('onedl-mmcv', '2.3.6')
    assert ct.split_package(ct.DEFAULT_PACKAGE) == ('mmcv', '2.1.0')
    for bad in ('onedl-mmcv', 'mmcv>=2.1', 'mmcv-full==1.7.2', 'mmcv==two'):
        with pytest.raises(ct.ToolchainError, match=r'--package .*allowed values are '
                           r'mmcv==X\.Y\.Z or onedl-mmcv==X\.Y\.Z'):
            ct.split_package(bad)
    key = ct.wheel_key('2.14.1+cu130', '13.0', '13.0', ['9.0'], 'onedl-mmcv==2.3.6')
    assert key == 'onedl-mmcv-2.3.6-torch2.14.1_cu130-cu13.0-nvcc13.0-sm90-py%d%d' % \
        sys.version_info[:2]
    assert ct.wheel_key('2.13.0+cu130', '13.0', '13.0', ['9.0']).startswith('mmcv-2.1.0-')


def test_source_is_patched_to_cxx20_only_for_torch_2_14(tmp_path):
    """torch >= 2.14 needs C++20; the setup.py's -std=c++17 (cxx and nvcc) would override it."""
    archive = _sdist(tmp_path)
    src, patches = ct.prepare_source('onedl-mmcv==2.3.6', str(tmp_path / 'a'), '2.14.1+cu130',
                                     str(archive))
    assert src == str(tmp_path / 'a' / 'onedl_mmcv-2.3.6')
    text = Path(src, 'setup.py').read_text()
    assert text.count("'-std=c++20'") == 2 and "'-std=c++17'" not in text
    assert "'-std=c++14'" in text  # only the flag torch 2.14 refuses is changed
    assert patches == ["setup.py: '-std=c++17' -> '-std=c++20' (2x; torch 2.14.1+cu130 needs "
                       "C++20)"]
    src, patches = ct.prepare_source('onedl-mmcv==2.3.6', str(tmp_path / 'b'), '2.13.0',
                                     str(archive))
    assert patches == [] and Path(src, 'setup.py').read_text() == SETUP_PY
    assert ct.needs_cxx20('2.14.0a0+git') and not ct.needs_cxx20('2.9.1+cu128')


def test_source_command_prints_only_the_folder(tmp_path):
    """`cuda_toolchain.py source SPEC DEST --sdist A` (install_onedl_env.sh's CPU build):
    stdout is the folder alone; what pip and the patch say goes to stderr."""
    archive = _sdist(tmp_path)
    proc = subprocess.run([sys.executable, str(TOOL), 'source', 'onedl-mmcv==2.3.6',
                           str(tmp_path / 'out'), '--sdist', str(archive)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f'{tmp_path / "out" / "onedl_mmcv-2.3.6"}\n'
    proc = subprocess.run([sys.executable, str(TOOL), 'source', 'onedl-mmcv'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith('cuda-build: STOP -- ')


def test_onedl_build_with_torch_2_14_builds_the_patched_source(tmp_path, monkeypatch):
    """build_mmcv(package='onedl-mmcv==2.3.6') on torch 2.14: the unpacked, C++20-patched
    source is what pip builds (not the registry's archive), the record names the package and
    the patch, and a wheel of another version installed afterwards is a problem."""
    archive = _sdist(tmp_path)
    calls = []

    def fake_pip(args, env=None, log=None):
        calls.append(list(args))
        if args[0] == 'wheel':
            folder = args[args.index('-w') + 1]
            Path(folder, 'onedl_mmcv-2.3.6-cp311-cp311-linux_x86_64.whl').write_text('')
            Path(log).write_text('  [78/78] nvcc x.cu\n')
            return 0, '  [78/78] nvcc x.cu\n'
        return 0, ''
    seen = {}

    def fake_verify(entries, home, expected_version=None):
        seen['expected'] = expected_version
        return dict(mmcv='2.3.6', compiled_cuda='13.0', cubins={'sm_90': 60}, problems=[])
    monkeypatch.setattr(ct, '_pip', fake_pip)
    monkeypatch.setattr(ct, 'torch_cuda', lambda: ('2.14.1+cu130', '13.0'))
    monkeypatch.setattr(ct, 'verify_mmcv', fake_verify)
    monkeypatch.setattr(ct, 'nvcc_release_line', lambda nvcc: 'release 13.0, V13.0.88')
    plan = ct.Plan('pip', '/h/bin/nvcc', '13.0', '/h', ['9.0'],
                   {'CUDA_HOME': '/h', 'TORCH_CUDA_ARCH_LIST': '9.0'}, 'CUDA_FROM=pip')
    rec = ct.build_mmcv(plan, str(tmp_path / 'w'), {}, sdist=str(archive),
                        package='onedl-mmcv==2.3.6')
    (wheel_call, install_call) = calls
    key = 'onedl-mmcv-2.3.6-torch2.14.1_cu130-cu13.0-nvcc13.0-sm90-py%d%d' % sys.version_info[:2]
    src = tmp_path / 'w' / key / 'src' / 'onedl_mmcv-2.3.6'
    assert wheel_call[-1] == str(src) and wheel_call[wheel_call.index('--no-binary') + 1] == \
        'onedl-mmcv'
    assert "'-std=c++20'" in (src / 'setup.py').read_text()
    assert rec['package'] == 'onedl-mmcv==2.3.6' and rec['ninja_steps'] == 78
    assert rec['patches'] and 'c++20' in rec['patches'][0] and seen['expected'] == '2.3.6'
    assert install_call[-1].endswith('onedl_mmcv-2.3.6-cp311-cp311-linux_x86_64.whl')


def test_verify_runs_the_cpu_ops_and_names_every_problem(monkeypatch):
    """verify_mmcv on this environment's mmcv (CPU ops): nms on the CPU runs and equals
    torchvision's; a CPU-only build, a missing arch, another version and a CPU nms that
    differs are each a named problem."""
    monkeypatch.setattr(ct, 'check_cubins', lambda so, entries, tool, run=None: dict(
        cubins={}, ptx=None, missing=['9.0']))
    monkeypatch.setattr(ct, 'find_cuobjdump', lambda home, sp: None)
    out = ct.verify_mmcv(['9.0'], None, expected_version='9.9.9')
    assert out['nms_cpu']['equal'] is True and out['nms_cpu']['kept'] > 100
    import mmcv
    problems = '\n'.join(out['problems'])
    assert f'mmcv {mmcv.__version__} is installed, the build was of 9.9.9' in problems
    assert 'lacks requested architectures: 9.0' in problems
    if out['compiled_cuda'] == 'not available':
        assert 'compiled with CUDA not available' in problems
    monkeypatch.setattr(ct, 'nms_cpu_vs_torchvision', lambda: dict(boxes=3, kept=1, equal=False))
    out = ct.verify_mmcv(['9.0'], None)
    assert any(p.startswith('mmcv.ops.nms on the CPU differs from torchvision')
               for p in out['problems'])
