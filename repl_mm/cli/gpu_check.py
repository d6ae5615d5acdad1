"""``tools/gpu_check.sh``: the first run on a GPU machine, in one go (issue 24 item 5).

Steps (each stops the check with its output on failure):

1. ``--offline DIR`` only: the kit of ``make gpu-kit`` (``DIR/kit.json``) is checked, the
   packages it leaves out (opencv, scipy: too large for its 64 MiB) must import, and a venv
   with ``--system-site-packages`` (the machine's torch, numpy, ...) gets the kit's wheels,
   without a registry (``pip --no-index --find-links DIR``); the machine's own environment
   is left alone;
2. ``tools/check_env.py``: versions, GPU, driver;
3. mmcv 2.1.0 CUDA ops: built for the visible GPUs (``make cuda-build``'s
   ``repl_mm/utils/cuda_toolchain.py build``, from ``DIR``'s source archive offline), a kept
   wheel reused; verified: ``mmcv.ops`` imports, the CUDA version is torch's, cuobjdump lists
   every arch, ``nms`` on the GPU equals the CPU;
4. ``tools/dist_train.sh`` on the tiny RetinaNet-RepL config and a synthetic COCO set with
   all the GPUs torch sees over NCCL (one process on a 1-GPU box);
5. ``tools/analysis_tools/benchmark_cuda.py``: the paper's memory / time rows, E2E vs RepL,
   into ``docs/benchmarks_cuda.md``.

``--dry-run`` lists the steps with their commands and exits 0 (no GPU, torch or kit needed).
Standard library only at module level: it runs before anything is installed.
"""
import os
import sys

if __name__ == '__main__' and sys.path and \
        os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run by path: do not let repl_mm/cli/* shadow top-level modules

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Dict, List, NamedTuple, Optional, Sequence  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_CONFIG = 'tests/tools/tiny_retinanet_repl.py'
BUDGET_S = 600


class Step(NamedTuple):
    """One step: a name, the command, extra environment, and a condition shown in the dry run
    (``when``: a python snippet that must exit 0 for the step to run)."""
    name: str
    cmd: List[str]
    env: Dict[str, str]
    when: Optional[str] = None


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog='tools/gpu_check.sh', description=__doc__.split('\n\n')[0])
    p.add_argument('--dry-run', action='store_true', help='list the steps and exit 0')
    p.add_argument('--offline', metavar='DIR', help='install from the kit of `make gpu-kit`')
    p.add_argument('--python', default=sys.executable,
                   help='the python with torch (default: the one running this)')
    p.add_argument('--venv', default=os.path.join(ROOT, '.venv-gpu'),
                   help='venv made for --offline (default .venv-gpu, git-ignored)')
    p.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', 'gpu_check'))
    p.add_argument('--out', default=os.path.join(ROOT, 'docs', 'benchmarks_cuda.md'))
    p.add_argument('--reps', type=int, default=10, help='timed steps per benchmark model')
    p.add_argument('--skip', nargs='+', default=[], metavar='STEP',
                   choices=['check_env', 'mmcv', 'dist_train', 'benchmark'],
                   help='steps to leave out')
    args = p.parse_args(argv)
    if args.reps < 1:
        p.error(f'--reps must be >= 1, got {args.reps}')
    if args.offline and not args.dry_run and not os.path.isfile(
            os.path.join(args.offline, 'kit.json')):
        p.error(f'--offline {args.offline}: no kit.json there; make it with `make gpu-kit` '
                '(.whl/gpu-kit) and copy the folder over')
    return args


def kit_info(folder: Optional[str]) -> Dict[str, object]:
    """``kit.json`` of an offline kit (the defaults of :mod:`repl_mm.cli.gpu_kit` when absent,
    for the dry run)."""
    path = os.path.join(folder, 'kit.json') if folder else ''
    defaults = dict(imports_required={'opencv_python': 'cv2', 'scipy': 'scipy'},
                install=dict(no_deps=['mmengine==0.10.7'],
                             if_missing={'torchvision': 'torchvision==0.26.0'},
                             requirements='requirements.txt', mmcv_sdist=['mmcv-2.1.0.tar.gz']))
    if path and os.path.isfile(path):
        with open(path) as f:
            return dict(defaults, **json.load(f))
    return defaults


def plan_steps(args: argparse.Namespace) -> List[Step]:
    """The steps of the check, in order."""
    steps: List[Step] = []
    py = args.python
    pypath = {'PYTHONPATH': ROOT}
    sdist: List[str] = []
    if args.offline:
        kit = kit_info(args.offline)
        inst = kit['install']
        imports = sorted(set(kit['imports_required'].values()) | {'torch', 'numpy'})
        steps.append(Step('kit: the machine has what the kit leaves out',
                          [py, '-c', f'import {", ".join(imports)}'], {}))
        steps.append(Step('kit: venv over the machine\'s packages',
                          [py, '-m', 'venv', '--system-site-packages', args.venv], {}))
        py = os.path.join(args.venv, 'bin', 'python')
        pip = [py, '-m', 'pip', 'install', '--no-index', '--find-links', args.offline,
               '--disable-pip-version-check', '-q']
        steps.append(Step('kit: mmengine (no deps: it names opencv-python)',
                          pip + ['--no-deps', *inst['no_deps']], {}))
        for mod, req in inst['if_missing'].items():
            steps.append(Step(f'kit: {req}', pip + ['--no-deps', req], {},
                              when=f'import {mod} (absent)'))
        steps.append(Step('kit: toolboxes and their dependencies',
                          pip + ['-r', os.path.join(args.offline, inst['requirements'])], {}))
        if inst.get('mmcv_sdist'):
            sdist = ['--sdist', os.path.join(args.offline, inst['mmcv_sdist'][0])]
    skip = set(args.skip)
    if 'check_env' not in skip:
        steps.append(Step('check_env', [py, os.path.join(ROOT, 'tools', 'check_env.py')],
                          pypath))
    if 'mmcv' not in skip:
        steps.append(Step('mmcv CUDA ops: build or reuse, verify (nms GPU vs CPU)',
                          [py, os.path.join(ROOT, 'repl_mm', 'utils', 'cuda_toolchain.py'),
                           'build', *sdist], dict(MAX_JOBS=str(os.cpu_count() or 2))))
    data = os.path.join(args.work_dir, 'shapes') + '/'
    if 'dist_train' not in skip:
        steps.append(Step('synthetic COCO set for the NCCL run', [py, '-c', (
            'from repl_mm.testing import make_synthetic_coco; '
            f'make_synthetic_coco({data!r}, num_train=16, num_val=8, image_size=64, '
            'min_size=12, max_size=32, seed=0)')], pypath))
        steps.append(Step('tools/dist_train.sh: every visible GPU over NCCL',
                          ['bash', os.path.join(ROOT, 'tools', 'dist_train.sh'),
                           os.path.join(ROOT, TINY_CONFIG), '$NGPUS', '--work-dir',
                           os.path.join(args.work_dir, 'dist_train')],
                          dict(SHAPES_ROOT=data, PYTHON=py, PORT='29517')))
    if 'benchmark' not in skip:
        steps.append(Step('benchmark rows E2E vs RepL -> ' + os.path.relpath(args.out, ROOT),
                          [py, os.path.join(ROOT, 'tools', 'analysis_tools',
                                            'benchmark_cuda.py'),
                           '--out', args.out, '--reps', str(args.reps), '--json',
                           os.path.join(args.work_dir, 'benchmarks_cuda.json')], pypath))
    return steps


def _gpu_count(py: str) -> int:
    out = subprocess.run([py, '-c', 'import torch; print(torch.cuda.device_count())'],
                         capture_output=True, text=True)
    try:
        return int(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0


def run_steps(steps: Sequence[Step], log=print) -> int:
    """Runs the steps in order; stops at the first failure. Returns the exit code."""
    t_all = time.time()
    ngpus: Optional[int] = None
    for i, step in enumerate(steps, 1):
        py = step.cmd[0] if step.cmd[0].endswith('python') or 'python' in \
            os.path.basename(step.cmd[0]) else sys.executable
        if step.when:
            mod = step.when.split()[1]
            if subprocess.run([py, '-c', f'import {mod}'], capture_output=True).returncode == 0:
                log(f'gpu_check: [{i}/{len(steps)}] {step.name}: skipped ({mod} is there)')
                continue
        cmd = list(step.cmd)
        if '$NGPUS' in cmd:
            ngpus = ngpus or _gpu_count(step.env.get('PYTHON', sys.executable))
            if ngpus < 1:
                log('gpu_check: STOP -- torch sees no GPU, so the NCCL run cannot start; run '
                    '`python tools/check_env.py` for the likely cause')
                return 2
            cmd = [str(ngpus) if c == '$NGPUS' else c for c in cmd]
        log(f'gpu_check: [{i}/{len(steps)}] {step.name}: {shlex.join(cmd)}')
        t0 = time.time()
        env = dict(os.environ, **step.env)
        if 'PYTHONPATH' in step.env and os.environ.get('PYTHONPATH'):
            env['PYTHONPATH'] = step.env['PYTHONPATH'] + os.pathsep + os.environ['PYTHONPATH']
        rc = subprocess.run(cmd, env=env, cwd=ROOT).returncode
        log(f'gpu_check: [{i}/{len(steps)}] {"ok" if rc == 0 else f"FAILED (exit {rc})"} in '
            f'{time.time() - t0:.0f} s')
        if rc != 0:
            return rc
    took = time.time() - t_all
    log(f'gpu_check: all {len(steps)} steps passed in {took:.0f} s'
        + (f' (over the {BUDGET_S} s budget)' if took > BUDGET_S else ''))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    steps = plan_steps(args)
    if args.dry_run:
        print(f'gpu_check: dry run, {len(steps)} steps (nothing is run):')
        for i, s in enumerate(steps, 1):
            env = ' '.join(f'{k}={shlex.quote(v)}' for k, v in s.env.items())
            cond = f'  [only if: {s.when}]' if s.when else ''
            print(f'  {i}. {s.name}{cond}\n     {env + " " if env else ""}{shlex.join(s.cmd)}')
        print('  ($NGPUS: the GPUs torch sees, counted when the step starts)')
        return 0
    return run_steps(steps)


if __name__ == '__main__':
    sys.exit(main())
