"""tools/dist_*.sh and slurm_*.sh: the Python they pick and the refusal of a CPU launch."""
import os
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'tests', 'tools', 'tiny_retinanet_repl.py')


def _pick(env: dict, root: str) -> str:
    """What tools/launcher_python.sh picks under ``env`` for repository ``root``."""
    script = f'. {osp.join(ROOT, "tools", "launcher_python.sh")}; repl_mm_python {root}'
    out = subprocess.run(['bash', '-c', script], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def _fake_python(prefix) -> str:
    """An executable ``prefix/bin/python``; returns ``prefix``."""
    bin_dir = prefix / 'bin'
    bin_dir.mkdir(parents=True)
    (bin_dir / 'python').write_text('#!/bin/sh\nexit 0\n')
    (bin_dir / 'python').chmod(0o755)
    return str(prefix)


def test_launcher_python_order(tmp_path):
    """PYTHON wins, then the activated venv, then conda, then the repository's .venv, then
    python on PATH."""
    venv, conda = _fake_python(tmp_path / 'venv'), _fake_python(tmp_path / 'conda')
    repo_root = str(tmp_path / 'repo')
    _fake_python(tmp_path / 'repo' / '.venv')
    base = {'PATH': os.environ['PATH']}
    full = dict(base, PYTHON='/opt/my/python', VIRTUAL_ENV=venv, CONDA_PREFIX=conda)
    assert _pick(full, repo_root) == '/opt/my/python'
    full.pop('PYTHON')
    assert _pick(full, repo_root) == f'{venv}/bin/python'
    full.pop('VIRTUAL_ENV')
    assert _pick(full, repo_root) == f'{conda}/bin/python'
    full.pop('CONDA_PREFIX')
    assert _pick(full, repo_root) == f'{repo_root}/.venv/bin/python'
    assert _pick(base, str(tmp_path / 'nowhere')) == 'python'
    # an activated environment without a python (a stale variable) is skipped
    assert _pick(dict(base, VIRTUAL_ENV=str(tmp_path / 'gone')), repo_root) == \
        f'{repo_root}/.venv/bin/python'


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine where torch sees no GPU')
@pytest.mark.parametrize('tool,args', [('dist_train.sh', [TINY, '2']),
                                       ('dist_test.sh', [TINY, 'missing.pth', '2'])])
def test_dist_launch_without_gpu_stops_at_once(tool, args):
    """Without a GPU and without REPL_MM_ALLOW_CPU_DIST=1 the launcher exits non-zero within
    seconds with the reason, before torchrun starts a process."""
    env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    env.pop('REPL_MM_ALLOW_CPU_DIST', None)
    start = time.time()
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', tool)] + args, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    elapsed = time.time() - start
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert elapsed < 30
    err = proc.stderr
    assert err.startswith("ERROR: launcher='pytorch': no GPU is visible to torch")
    assert 'REPL_MM_ALLOW_CPU_DIST=1' in err and "CUDA_VISIBLE_DEVICES=''" in err
    assert 'torch.distributed.run' not in err and 'torchrun' not in err
    assert proc.stdout == ''


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine where torch sees no GPU')
def test_train_py_pytorch_launcher_refuses_cpu(tmp_path):
    """tools/train.py --launcher pytorch (what slurm_train.sh runs on a node, with 'slurm')
    refuses before building the runner."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
               MASTER_ADDR='127.0.0.1', MASTER_PORT='29999',
               REPL_MM_SKIP_DATA_CHECK='1')  # no shapes data here: reach the GPU refusal
    env.pop('REPL_MM_ALLOW_CPU_DIST', None)
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), TINY,
                           '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'w')],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("repl_mm.engine.runner.dist.NoGPUError: launcher='pytorch': no GPU")
    assert not (tmp_path / 'w').exists()
