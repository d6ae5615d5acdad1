"""tools/install_env.sh's decisions on a GPU machine, simulated on CPU: a copy of the script
runs against a fake .venv whose python answers `-m pip` by logging the command (and "building"
mmcv: CUDA ops exactly when FORCE_CUDA=1) and runs everything else on stub torch / mmcv /
toolbox modules; fake nvidia-smi and nvcc sit on PATH. No network, no build, a second each."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from fake_cuda import A100, H100, fake_nvcc, fake_nvidia_smi, write_exe

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

FAKE_PIP = '''import json, os, sys
args = sys.argv[1:]
with open(os.environ['FAKE_LOG'], 'a') as f:
    f.write(json.dumps(dict(args=args, FORCE_CUDA=os.environ.get('FORCE_CUDA'),
                            ARCH=os.environ.get('TORCH_CUDA_ARCH_LIST'))) + '\\n')
if 'mmcv==2.1.0' in args and '--no-build-isolation' in args:
    with open(os.environ['FAKE_STATE'], 'w') as f:
        json.dump(dict(version='2.1.0', cuda='13.0' if os.environ.get('FORCE_CUDA') == '1'
                       else 'not available'), f)
if args[0] == 'wheel':  # install_onedl_env.sh's CPU build of the unpacked source
    open(os.path.join(args[args.index('-w') + 1], 'onedl_mmcv-2.3.6-cp3-cp3-linux.whl'), 'w')
if args[0] == 'install' and args[-1].endswith('.whl'):
    with open(os.environ['FAKE_STATE'], 'w') as f:
        json.dump(dict(version=args[-1].rsplit('/', 1)[-1].split('-')[1], cuda='not available'),
                  f)
'''
#: stands in for repl_mm/utils/cuda_toolchain.py (tested in tests/utils/test_cuda_toolchain.py):
#: logs its call like FAKE_PIP; `build` "builds" mmcv with CUDA ops, `specs` names the wheels
FAKE_TOOLCHAIN = '''import json, os, sys
args = sys.argv[1:]
with open(os.environ['FAKE_LOG'], 'a') as f:
    f.write(json.dumps(dict(args=['cuda_toolchain', *args], FORCE_CUDA=os.environ.get('FORCE_CUDA'),
                            ARCH=os.environ.get('TORCH_CUDA_ARCH_LIST'),
                            CUDA_FROM=os.environ.get('CUDA_FROM'))) + '\\n')
if args == ['specs']:
    print('cuda-toolkit[nvcc,cccl]==13.0.3.0')
if args[:1] == ['build']:
    package = args[args.index('--package') + 1] if '--package' in args else 'mmcv==2.1.0'
    with open(os.environ['FAKE_STATE'], 'w') as f:
        json.dump(dict(version=package.split('==')[1], cuda='13.0'), f)
if args[:1] == ['source']:
    src = os.path.join(args[2], 'onedl_mmcv-2.3.6')
    os.makedirs(src)
    print(src)
'''
STUBS = {
    'torch/__init__.py': '''import os
__version__ = os.environ.get('FAKE_TORCH_VERSION', '2.13.0+cu130')
class version:
    cuda = os.environ.get('FAKE_TORCH_CUDA', '13.0') or None
_caps = [c for c in os.environ.get('FAKE_CAPS', '').split(',') if c]
class cuda:
    is_available = staticmethod(lambda: os.environ.get('FAKE_CUDA_AVAILABLE') == '1')
    device_count = staticmethod(lambda: len(_caps))
    get_device_capability = staticmethod(lambda i: tuple(map(int, _caps[i].split('.'))))
    get_device_name = staticmethod(lambda i: 'Fake GPU')
def tensor(data, device=None):
    return data
''',
    'mmcv/__init__.py': '''import json, os
with open(os.environ['FAKE_STATE']) as f:
    _state = json.load(f)
if _state['version'] is None:
    raise ImportError('No module named mmcv (stub)')
__version__ = _state['version']
''',
    'mmcv/ops/__init__.py': '''from mmcv import _state
class _Keep(list):
    def tolist(self):
        return list(self)
def get_compiling_cuda_version():
    return _state['cuda']
def nms(boxes, scores, iou_threshold):
    return None, _Keep([0])
''',
}
for name in ('torchvision', 'mmdet', 'mmseg', 'mmpretrain', 'repl_mm'):
    STUBS[f'{name}/__init__.py'] = "__version__ = '0.0.0'\n"
# what importlib.metadata reports for torch (found before the real interpreter's)
STUBS['torch-2.13.0+cu130.dist-info/METADATA'] = ('Metadata-Version: 2.1\nName: torch\n'
                                                 'Version: 2.13.0+cu130\n')


@pytest.fixture
def fake_repo(tmp_path):
    """A copy of the files install_env.sh reads, with a fake .venv; returns (root, env)."""
    root = tmp_path / 'repo'
    for rel in ('tools/install_env.sh', 'tools/install_onedl_env.sh',
                'repl_mm/utils/envcheck.py', 'repl_mm/version.py', 'setup.py',
                'repl_mm/utils/cuda_toolchain.py'):
        os.makedirs(root / osp.dirname(rel), exist_ok=True)
        shutil.copy(osp.join(ROOT, rel), root / rel)
    shutil.copytree(osp.join(ROOT, 'requirements'), root / 'requirements')
    stubs = tmp_path / 'stubs'
    for rel, text in STUBS.items():
        os.makedirs(stubs / osp.dirname(rel), exist_ok=True)
        (stubs / rel).write_text(text)
    (tmp_path / 'fake_pip.py').write_text(FAKE_PIP)
    (tmp_path / 'fake_toolchain.py').write_text(FAKE_TOOLCHAIN)
    write_exe(root / '.venv' / 'bin', 'python', f'''if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  shift 2; exec "{sys.executable}" "{tmp_path / 'fake_pip.py'}" "$@"
fi
case "$1" in *cuda_toolchain.py)
  shift; exec "{sys.executable}" "{tmp_path / 'fake_toolchain.py'}" "$@";; esac
PYTHONPATH="{stubs}" exec "{sys.executable}" "$@"''')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    env = {'PATH': f'{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin', 'HOME': str(tmp_path),
           'PYTHON': sys.executable, 'FAKE_LOG': str(tmp_path / 'pip.log'),
           'FAKE_STATE': str(tmp_path / 'mmcv.json'), 'FAKE_CUDA_AVAILABLE': '1',
           'FAKE_CAPS': '9.0,8.0', 'CUDA_HOME': str(tmp_path / 'no-cuda')}
    set_mmcv(env, '2.1.0', 'not available')  # a CPU-only mmcv, as `make install` made before
    return root, env, bin_dir


def set_mmcv(env, version, cuda):
    with open(env['FAKE_STATE'], 'w') as f:
        json.dump(dict(version=version, cuda=cuda), f)


def run_install(root, env, script='install_env.sh'):
    proc = subprocess.run(['bash', str(root / 'tools' / script)], env=env,
                          capture_output=True, text=True, timeout=120)
    log = []
    if osp.exists(env['FAKE_LOG']):
        with open(env['FAKE_LOG']) as f:
            log = [json.loads(line) for line in f]
        os.remove(env['FAKE_LOG'])
    return proc, log


def builds(log):
    """The mmcv builds: pip's (CPU ops) and cuda_toolchain.py's (CUDA ops)."""
    return [e for e in log if ('mmcv==2.1.0' in e['args'] and '--no-build-isolation' in e['args'])
            or e['args'][:2] == ['cuda_toolchain', 'build']]


def cuda_ready(env, bin_dir, nvcc='13.0'):
    fake_nvidia_smi(bin_dir, gpus=(H100, A100))
    env['CUDA_HOME'] = str(bin_dir.parent / 'cuda')
    fake_nvcc(bin_dir.parent / 'cuda' / 'bin', nvcc)


def test_gpu_machine_rebuilds_cpu_only_mmcv_with_cuda_ops(fake_repo):
    root, env, bin_dir = fake_repo
    cuda_ready(env, bin_dir)
    proc, log = run_install(root, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (build, ) = builds(log)
    # the toolchain (system / pip nvcc, wheel kept and reused, cuobjdump) builds for the GPUs
    assert build['args'] == ['cuda_toolchain', 'build'] and build['ARCH'] == '8.0;9.0'
    assert ('install: building mmcv==2.1.0 with CUDA ops (the installed mmcv has CPU-only ops '
            '(compiled without CUDA))') in proc.stdout
    # the nvcc wheels of torch's CUDA release are installed for the CI smoke test
    assert any(e['args'][-1] == 'cuda-toolkit[nvcc,cccl]==13.0.3.0' for e in log)
    assert proc.stdout.strip().endswith('install: mmcv 2.1.0 ops compiled with CUDA: 13.0')
    toolbox = [e for e in log if 'mmdet==3.3.0' in e['args']]
    assert toolbox and {'seaborn', 'pandas'} <= set(toolbox[0]['args'])
    stamp = (root / '.venv' / '.repl_mm_stamp').read_text()
    # a second run: up to date, nothing installed
    proc, log = run_install(root, env)
    assert proc.stdout == f'install: .venv is up to date ({stamp.strip()})\n' and log == []
    # the same .venv with a CPU-only mmcv again (e.g. a build by hand): revisited and rebuilt
    set_mmcv(env, '2.1.0', 'not available')
    proc, log = run_install(root, env)
    assert proc.returncode == 0 and len(builds(log)) == 1


def test_cpu_machine_keeps_todays_path(fake_repo):
    """No nvidia-smi: mmcv is built as before (no FORCE_CUDA, no --force-reinstall), and only
    when it does not import; no CUDA checks, no verify."""
    root, env, _ = fake_repo
    set_mmcv(env, None, None)
    proc, log = run_install(root, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (build, ) = builds(log)
    assert build['FORCE_CUDA'] is None and build['ARCH'] is None
    assert build['args'] == ['install', '--isolated', '--disable-pip-version-check',
                             '--progress-bar', 'off', '-q', '--no-build-isolation',
                             'mmcv==2.1.0']
    assert 'install: building mmcv==2.1.0 from source' in proc.stdout
    assert 'CUDA' not in proc.stdout + proc.stderr
    set_mmcv(env, '2.1.0', 'not available')
    (root / '.venv' / '.repl_mm_stamp').unlink()
    proc, log = run_install(root, env)
    assert proc.returncode == 0 and builds(log) == []  # a CPU mmcv is right here


@pytest.mark.parametrize('case,expected', [
    ('invisible', 'sees no GPU although nvidia-smi lists NVIDIA A100-SXM4-40GB, NVIDIA H100'),
    # no nvcc / an nvcc of another major: cuda_toolchain.py picks the pip wheels, or refuses
    # with CUDA_FROM=system (tests/utils/test_cuda_toolchain.py)
    ('cpu_torch', 'the installed torch 2.13.0+cpu is a CPU-only build'),
])
def test_gpu_machine_mismatch_stops_before_building(fake_repo, case, expected):
    root, env, bin_dir = fake_repo
    cuda_ready(env, bin_dir)
    if case == 'invisible':
        env['FAKE_CUDA_AVAILABLE'] = '0'
    elif case == 'cpu_torch':
        env.update(FAKE_TORCH_VERSION='2.13.0+cpu', FAKE_TORCH_CUDA='', FAKE_CUDA_AVAILABLE='0')
    proc, log = run_install(root, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip().splitlines()
    assert err[0].startswith('install: STOP -- ') and expected in err[0], err
    assert err[-1].startswith('Ways out: (1) a torch build for this machine\'s CUDA')
    assert builds(log) == [] and not any('mmdet==3.3.0' in e['args'] for e in log)
    assert not (root / '.venv' / '.repl_mm_stamp').exists()


def test_failing_driver_stops_at_once(fake_repo):
    root, env, bin_dir = fake_repo
    fake_nvidia_smi(bin_dir, fail="NVIDIA-SMI has failed because it couldn't communicate with "
                    'the NVIDIA driver.')
    proc, log = run_install(root, env)
    assert proc.returncode == 2 and log == []
    assert 'FORCE_CUDA=0 make install' in proc.stderr
    env['FORCE_CUDA'] = '0'  # the documented way to install CPU ops there anyway
    proc, log = run_install(root, env)
    assert proc.returncode == 0 and builds(log) == []


def test_torch_index_url(fake_repo):
    """TORCH_INDEX_URL is passed as --index-url (pip --isolated ignores PIP_INDEX_URL) and
    torch is reinstalled from it unless the installed build already has its label."""
    root, env, bin_dir = fake_repo
    cuda_ready(env, bin_dir)
    env['TORCH_INDEX_URL'] = 'https://download.pytorch.org/whl/cu126'
    proc, log = run_install(root, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    torch_lines = [e['args'] for e in log if 'torch==2.13.0' in e['args']]
    assert '--index-url' in torch_lines[0] and \
        torch_lines[0][torch_lines[0].index('--index-url') + 1] == env['TORCH_INDEX_URL']
    assert '--force-reinstall' in torch_lines[0]
    assert 'install: torch and torchvision from https://download.pytorch.org/whl/cu126' in \
        proc.stdout


def test_force_cuda_on_a_build_host_without_gpu(fake_repo):
    """FORCE_CUDA=1 without a GPU (`make cuda-build` here): CUDA ops built by the toolchain
    with its default architectures (no TORCH_CUDA_ARCH_LIST exported), CUDA_FROM passed
    through; no nvcc needed by the script itself (the pip route brings one)."""
    root, env, bin_dir = fake_repo
    env['CUDA_HOME'] = str(bin_dir.parent / 'nowhere')
    env.update(FORCE_CUDA='1', FAKE_CUDA_AVAILABLE='0', FAKE_CAPS='', CUDA_FROM='pip')
    proc, log = run_install(root, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (build, ) = builds(log)
    assert build['args'] == ['cuda_toolchain', 'build'] and build['ARCH'] is None
    assert build['CUDA_FROM'] == 'pip'
    assert proc.stdout.strip().endswith('install: mmcv 2.1.0 ops compiled with CUDA: 13.0')


def test_cuda_mmcv_already_built(fake_repo):
    """An mmcv with CUDA ops is kept (no nvcc needed), but torch must still see the GPU."""
    root, env, bin_dir = fake_repo
    fake_nvidia_smi(bin_dir, gpus=(H100, ))
    set_mmcv(env, '2.1.0', '13.0')
    proc, log = run_install(root, env)  # CUDA_HOME points nowhere: no nvcc
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert builds(log) == []
    (root / '.venv' / '.repl_mm_stamp').unlink()
    env['FAKE_CUDA_AVAILABLE'] = '0'
    proc, log = run_install(root, env)
    assert proc.returncode == 2 and 'sees no GPU although nvidia-smi lists' in proc.stderr


def _onedl(root, env):
    """install_onedl_env.sh over the fake venv (ONEDL_VENV), with an mmengine stub too."""
    stubs = root.parent / 'stubs'
    (stubs / 'mmengine').mkdir(exist_ok=True)
    (stubs / 'mmengine' / '__init__.py').write_text("__version__ = '0.10.12'\n")
    env.update(ONEDL_VENV=str(root / '.venv'), REPL_MM_WHEEL_CACHE=str(root.parent / 'wheels'))
    set_mmcv(env, None, None)
    return lambda: run_install(root, env, 'install_onedl_env.sh')


def test_onedl_install_builds_cuda_ops_on_a_gpu_machine(fake_repo):
    """issue 24 item 2: on a GPU machine (or FORCE_CUDA=1) install_onedl_env.sh installs the
    compiler wheels of torch's CUDA and builds onedl-mmcv (not mmcv 2.1.0) through the same
    toolchain as `make cuda-build`; a second run is up to date; a CPU-only fork is rebuilt."""
    root, env, bin_dir = fake_repo
    cuda_ready(env, bin_dir)
    run = _onedl(root, env)
    proc, log = run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = [e['args'] for e in log]
    assert ['cuda_toolchain', 'specs'] in calls
    (compilers, ) = [i for i, a in enumerate(calls) if 'cuda-toolkit[nvcc,cccl]==13.0.3.0' in a]
    # the build is verified at once: cv2 (which onedl-mmengine does not bring) is there first
    assert 'opencv-python-headless' in calls[compilers]
    (build, ) = [e for e in log if e['args'][:2] == ['cuda_toolchain', 'build']]
    assert calls.index(build['args']) > compilers
    assert build['args'] == ['cuda_toolchain', 'build', '--package', 'onedl-mmcv==2.3.6']
    assert not any(a[:1] == ['wheel'] for a in calls)  # no CPU build beside it
    assert 'install-onedl: building onedl-mmcv==2.3.6 with CUDA ops' in proc.stdout
    proc, log = run()
    assert proc.returncode == 0 and 'is up to date' in proc.stdout and log == []
    set_mmcv(env, '2.3.6', 'not available')  # the CPU build of the matrix cell
    proc, log = run()
    assert proc.returncode == 0, proc.stderr
    assert [e['args'][:2] for e in log if e['args'][0] == 'cuda_toolchain'] == [
        ['cuda_toolchain', 'specs'], ['cuda_toolchain', 'build']]


def test_onedl_install_cpu_build_uses_the_shared_source_step(fake_repo):
    """Without a GPU: the source comes from `cuda_toolchain.py source` (the C++20 patch for
    torch >= 2.14 lives there), pip builds CPU ops from it into the wheel cache, and a second
    environment installs the cached wheel without building."""
    root, env, _ = fake_repo
    run = _onedl(root, env)
    proc, log = run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = [e['args'] for e in log]
    (source, ) = [a for a in calls if a[:2] == ['cuda_toolchain', 'source']]
    assert source[2] == 'onedl-mmcv==2.3.6'
    (wheel, ) = [e for e in log if e['args'][0] == 'wheel']
    assert wheel['FORCE_CUDA'] == '0' and wheel['args'][-1].endswith('/onedl_mmcv-2.3.6')
    assert not any(a[:2] == ['cuda_toolchain', 'build'] for a in calls)
    (root / '.venv' / '.repl_mm_stamp').unlink()
    set_mmcv(env, None, None)
    proc, log = run()
    assert proc.returncode == 0 and not any(e['args'][0] == 'wheel' for e in log)
    assert any(e['args'][-1].endswith('onedl_mmcv-2.3.6-cp3-cp3-linux.whl') for e in log)


def test_rebuild_builds_over_a_fitting_cuda_mmcv(fake_repo):
    """`REBUILD=1 make cuda-build` (another route or arch list, docs/gpu.md): the toolchain
    runs although the installed mmcv has CUDA ops and the stamp is current; without it, not."""
    root, env, bin_dir = fake_repo
    cuda_ready(env, bin_dir)
    set_mmcv(env, '2.1.0', '13.0')
    proc, log = run_install(root, env)
    assert proc.returncode == 0 and builds(log) == [], proc.stderr
    env['REBUILD'] = '1'
    proc, log = run_install(root, env)
    assert proc.returncode == 0, proc.stderr
    (build, ) = builds(log)
    assert build['args'] == ['cuda_toolchain', 'build']
    assert 'install: building mmcv==2.1.0 with CUDA ops (REBUILD=1)' in proc.stdout
