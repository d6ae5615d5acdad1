"""tools/gpu_check.sh --dry-run (issue 24 item 5) and the offline kit's helpers (item 6)."""
import json
import subprocess
from pathlib import Path

from repl_mm.cli import gpu_check, gpu_kit

ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_lists_every_step_and_exits_0_without_a_gpu():
    proc = subprocess.run(['bash', str(ROOT / 'tools' / 'gpu_check.sh'), '--dry-run'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert 'dry run, 5 steps' in out
    for needle in ('tools/check_env.py', 'cuda_toolchain.py build', 'make_synthetic_coco',
                   'tools/dist_train.sh', "'$NGPUS'", 'benchmark_cuda.py',
                   'docs/benchmarks_cuda.md'):
        assert needle in out, needle
    assert 'kit:' not in out


def test_offline_dry_run_installs_from_the_kit_only(tmp_path):
    kit = tmp_path / 'kit'
    kit.mkdir()
    (kit / 'kit.json').write_text(json.dumps(dict(
        imports_required={'scipy': 'scipy'},
        install=dict(no_deps=['mmengine==0.10.7'],
                     if_missing={'torchvision': 'torchvision==0.26.0'},
                     requirements='requirements.txt', mmcv_sdist=['mmcv-2.1.0.tar.gz']))))
    args = gpu_check.parse_args(['--dry-run', '--offline', str(kit), '--python', 'python3.12',
                                 '--venv', str(tmp_path / 'v'), '--skip', 'benchmark'])
    steps = gpu_check.plan_steps(args)
    names = [s.name for s in steps]
    assert names[0] == 'kit: the machine has what the kit leaves out'
    assert steps[0].cmd[-1] == 'import numpy, scipy, torch'
    assert not any('benchmark' in n for n in names)
    pips = [s for s in steps if '-m' in s.cmd and 'pip' in s.cmd]
    assert pips and all('--no-index' in s.cmd and str(kit) in s.cmd for s in pips)
    mmcv = next(s for s in steps if 'cuda_toolchain.py' in ' '.join(s.cmd))
    assert mmcv.cmd[-2:] == ['--sdist', str(kit / 'mmcv-2.1.0.tar.gz')]
    assert mmcv.cmd[0] == str(tmp_path / 'v' / 'bin' / 'python')
    torchvision = next(s for s in steps if 'torchvision' in s.name)
    assert torchvision.when == 'import torchvision (absent)'


def test_offline_without_a_kit_is_one_line(tmp_path, capsys):
    import pytest
    with pytest.raises(SystemExit) as e:
        gpu_check.parse_args(['--offline', str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert '--offline' in err and 'kit.json' in err and 'make gpu-kit' in err


def test_kit_prunes_what_the_machine_has(tmp_path):
    for f in ('torch-2.11.0-cp312-cp312-manylinux_2_28_x86_64.whl',
              'numpy-2.5.5-cp312-cp312-manylinux_2_28_x86_64.whl',
              'nvidia_cublas-13.1.1.3-py3-none-manylinux_2_27_x86_64.whl',
              'opencv_python-5.1.0.95-cp37-abi3-manylinux_2_28_x86_64.whl',
              'mmdet-3.3.0-py3-none-any.whl', 'mmcv-2.1.0.tar.gz'):
        (tmp_path / f).write_text('x')
    gone = gpu_kit.prune(str(tmp_path), gpu_kit.PRESENT + gpu_kit.SKIP)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mmcv-2.1.0.tar.gz',
                                                          'mmdet-3.3.0-py3-none-any.whl']
    assert len(gone) == 4
    assert gpu_kit.wheel_dist('opencv_python_headless-4.11.0.86-cp37-abi3-x.whl') == \
        'opencv_python_headless'
