"""tools/check_env.py: exit 0 in the .venv; the right PROBLEM line for each simulated fault."""
import os.path as osp
import subprocess
import sys
import types

import pytest
import torch
from fake_cuda import A100, H100

from repl_mm.testing.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tool():
    return load_tool('repl_mm/cli/check_env.py')


def _problems(found):
    return [f'{f.label}: {f.text}; fix: {f.fix}' for f in found if f.problem]


def test_exits_0_in_the_venv():
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'check_env.py')],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    labels = [line.split()[0] for line in lines[:-1]]
    assert labels == ['Python', 'nvidia-smi', 'torch', 'torchvision', 'mmcv', 'mmengine',
                      'mmdet', 'mmsegmentation', 'mmpretrain', 'numpy', 'repl_mm', 'launchers']
    assert lines[-1] == 'OK: everything the installed toolboxes need works.'
    assert 'PROBLEM' not in proc.stdout
    assert f'{torch.__version__}, CUDA build {torch.version.cuda}' in proc.stdout


def test_gpu_invisible_to_torch(tool, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    probe = tool.envcheck.GpuProbe(True, [H100, A100], '12.9', None)
    (line, ) = _problems(tool.check_torch(probe))
    assert line.startswith("torch: sees no GPU although nvidia-smi lists 2: "
                           "CUDA_VISIBLE_DEVICES='' hides them, or the driver (CUDA up to 12.9) "
                           "is older than torch's CUDA 13.0 build needs")
    assert 'TORCH_INDEX_URL=' in line
    # no GPU at all: CPU only is information, not a problem
    assert _problems(tool.check_torch(tool.envcheck.GpuProbe(False, [], None, None))) == []


def test_cpu_only_mmcv_with_a_visible_gpu(tool, monkeypatch):
    mmcv = types.ModuleType('mmcv')
    mmcv.__version__ = '2.1.0'
    ops = types.ModuleType('mmcv.ops')
    ops.get_compiling_cuda_version = lambda: 'not available'
    monkeypatch.setitem(sys.modules, 'mmcv', mmcv)
    monkeypatch.setitem(sys.modules, 'mmcv.ops', ops)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    (line, ) = _problems(tool.check_mmcv())
    assert line.startswith('mmcv: ops are CPU-only (compiled without CUDA) but torch sees a GPU')
    assert 'FORCE_CUDA=1' in line
    ops.get_compiling_cuda_version = lambda: '12.4'
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    (line, ) = _problems(tool.check_mmcv())
    assert line.startswith('mmcv: ops compiled with CUDA 12.4, torch uses CUDA 13.0')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert _problems(tool.check_mmcv()) == []  # CPU ops on a CPU machine: fine


def test_mmcv_22_with_mmdet(tool):
    versions = dict(mmengine='0.10.7', mmcv='2.2.0', mmdet='3.3.0', mmpretrain='1.2.0',
                    numpy='1.26.4')
    lines = _problems(tool.check_openmmlab(versions))
    assert lines == [
        'mmdet: mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0 but mmcv 2.2.0 is installed; fix: ' +
        tool.envcheck.MMCV_FIX]
    report = tool.report(tool.check_openmmlab(versions))
    assert report.splitlines()[-2].startswith('PROBLEM: mmdet: mmdet 3.3.0 needs mmcv')
    assert report.splitlines()[-1] == '1 problem(s): see the PROBLEM lines.'


def test_broken_torchvision_ops(tool, monkeypatch):
    import torchvision

    def broken(*args, **kwargs):
        raise RuntimeError('operator torchvision::nms does not exist')
    monkeypatch.setattr(torchvision.ops, 'nms', broken)
    (line, ) = _problems(tool.check_torchvision())
    assert line.startswith('torchvision: compiled ops do not work (RuntimeError: operator '
                           'torchvision::nms does not exist)')


def test_no_toolbox(tool):
    lines = _problems(tool.check_openmmlab(dict(mmengine='0.10.7', mmcv='2.1.0')))
    assert lines == ['toolboxes: none of mmdet, mmsegmentation, mmpretrain is installed; fix: '
                     'pip install -e ".[toolboxes]" (or the toolbox you use), or make install']
