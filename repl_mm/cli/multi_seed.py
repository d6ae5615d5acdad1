"""Train a config once per seed and report mean ± std of the final metrics (paper format).

    python tools/multi_seed.py CONFIG --seeds 0 1 2 3 4 [--work-dir D] [--nproc N]
        [--deterministic] [--test] [--metrics accuracy/top1 ...] [--digits 2]
        [--cfg-options k=v ...] [train.py args: --amp, --auto-scale-lr, ...]

Each seed trains through ``tools/train.py`` (a subprocess; ``--nproc N > 1`` runs it with
``torch.distributed.run`` and ``--launcher pytorch``, like ``tools/dist_train.sh``) into
``D/seed_<S>/`` with ``--cfg-options randomness.seed=S`` (and
``randomness.deterministic=True`` with ``--deterministic``). Its final metrics -- the last
validation of the run, or with ``--test`` the test of its last checkpoint through
``tools/test.py`` -- go to ``D/seed_<S>/final_metrics.json``. Then ``D/multi_seed.json`` and
``D/multi_seed.md`` get every seed's metrics and their mean ± sample std, which is also
printed (``accuracy/top1: 93.43±0.19 (n=5)``).

Resumable: a seed whose ``final_metrics.json`` exists is not rerun; a seed whose training was
interrupted (its folder has mmengine's ``last_checkpoint``) continues with ``--resume``.
Default ``D``: ``work_dirs/<config name>_seeds``. CPU multi-process runs need
``REPL_MM_ALLOW_CPU_DIST=1`` in the environment (see tools/train.py).
"""
import argparse
import os
import os.path as osp
import shlex
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

from ..analysis.multi_seed import (
    FINAL_METRICS,
    format_pm,
    read_test_metrics,
    read_val_metrics,
    write_json_atomic,
    write_summary,
)
from ..utils.config import package_env, tool_path


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--seeds', type=int, nargs='+', required=True, help='e.g. 0 1 2 3 4')
    p.add_argument('--work-dir', help='default: work_dirs/<config name>_seeds')
    p.add_argument('--nproc', type=int, default=1,
                   help='processes per run (> 1: torch.distributed.run, --launcher pytorch)')
    p.add_argument('--master-port', type=int, default=29500,
                   help='base port for --nproc > 1 (seed S uses base + S)')
    p.add_argument('--deterministic', action='store_true',
                   help='randomness.deterministic=True (cudnn deterministic, slower)')
    p.add_argument('--test', action='store_true',
                   help='final metrics from tools/test.py on the last checkpoint instead of '
                        'the last validation of training')
    p.add_argument('--metrics', nargs='+', help='metrics to report (default: all)')
    p.add_argument('--digits', type=int, default=2, help='decimals in the report')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='overrides for every seed (key=value), merged with the seed')
    p.add_argument('--python', default=sys.executable, help='interpreter for the runs')
    args, train_args = p.parse_known_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds has duplicates: {args.seeds}')
    if args.nproc < 1:
        p.error(f'--nproc must be >= 1, got {args.nproc}')
    for bad in ('--work-dir', '--launcher', '--resume', '--cfg-options'):
        if bad in train_args:
            p.error(f'{bad} is set by multi_seed.py per seed; remove it from the train args')
    args.train_args = train_args
    return args


def _cfg_option_args(options: Dict, seed: int, deterministic: bool) -> List[str]:
    opts = dict(options)
    opts['randomness.seed'] = seed
    if deterministic:
        opts['randomness.deterministic'] = True
    return ['--cfg-options'] + [f'{k}={_fmt(v)}' for k, v in opts.items()]


def _fmt(v) -> str:
    """A value back into ``DictAction`` syntax."""
    if isinstance(v, (list, tuple)):
        inner = ','.join(_fmt(x) for x in v)
        return f'[{inner}]' if isinstance(v, list) else f'({inner})'
    return str(v)


def _launch(args, script: str, seed: int) -> List[str]:
    if args.nproc == 1:
        return [args.python, tool_path(script)]
    return [args.python, '-m', 'torch.distributed.run', f'--nproc_per_node={args.nproc}',
            f'--master_port={args.master_port + seed}', tool_path(script)]


def train_command(args, seed: int, seed_dir: str) -> List[str]:
    cmd = _launch(args, 'train.py', seed) + [args.config, '--work-dir', seed_dir]
    if args.nproc > 1:
        cmd += ['--launcher', 'pytorch']
    if osp.isfile(osp.join(seed_dir, 'last_checkpoint')):
        cmd.append('--resume')          # an interrupted run continues
    return cmd + args.train_args + _cfg_option_args(args.cfg_options, seed, args.deterministic)


def test_command(args, seed: int, seed_dir: str) -> List[str]:
    with open(osp.join(seed_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    cmd = _launch(args, 'test.py', seed) + [args.config, ckpt, '--work-dir',
                                            osp.join(seed_dir, 'test')]
    if args.nproc > 1:
        cmd += ['--launcher', 'pytorch']
    return cmd + _cfg_option_args(args.cfg_options, seed, False)


def _run(cmd: List[str], what: str) -> None:
    print(f'[multi_seed] {what}: {shlex.join(cmd)}', flush=True)
    rc = subprocess.call(cmd, env=package_env(os.environ))
    if rc != 0:
        raise SystemExit(f'[multi_seed] {what} failed with exit code {rc}; rerun the same '
                         'command to resume (finished seeds are kept)')


def run_seed(args, seed: int, work_dir: str) -> Dict:
    """Trains (or resumes) one seed unless it is finished; returns its final metrics."""
    seed_dir = osp.join(work_dir, f'seed_{seed}')
    final = osp.join(seed_dir, FINAL_METRICS)
    if osp.isfile(final):
        import json
        with open(final) as f:
            record = json.load(f)
        print(f'[multi_seed] seed {seed}: finished before ({final}), not rerun', flush=True)
        return record
    os.makedirs(seed_dir, exist_ok=True)
    _run(train_command(args, seed, seed_dir), f'seed {seed} train')
    if args.test:
        _run(test_command(args, seed, seed_dir), f'seed {seed} test')
        metrics, source, step = read_test_metrics(osp.join(seed_dir, 'test')), 'test', None
    else:
        (metrics, step), source = read_val_metrics(seed_dir), 'val'
    record = dict(seed=seed, config=args.config, source=source, step=step, metrics=metrics)
    write_json_atomic(record, final)
    return record


def main(argv: Optional[Sequence[str]] = None, data_checked: bool = False) -> Dict:
    """Runs every seed; returns ``{'per_seed': {seed: metrics}, 'summary': {...}}``.
    ``data_checked``: the caller ran the data check already (``tools/multi_seed.py`` does,
    before torch is imported); otherwise it runs here, once, before any seed starts."""
    if not data_checked:
        from ..datasets.check import precheck  # issue 29
        precheck('multi_seed', argv)
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config not found: {args.config}')
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', f'{name}_seeds')
    os.makedirs(work_dir, exist_ok=True)
    per_seed = {s: run_seed(args, s, work_dir)['metrics'] for s in args.seeds}
    command = shlex.join(['python', 'tools/multi_seed.py'] + list(
        sys.argv[1:] if argv is None else argv))
    result = write_summary(args.config, work_dir, args.seeds, per_seed, args.metrics,
                           args.digits, command)
    summary = result['summary']
    print(f'[multi_seed] {name}, seeds {list(args.seeds)} (mean ± sample std):')
    for k, v in summary.items():
        print(f'{k}: {format_pm(v["mean"], v["std"], args.digits)} (n={v["n"]})')
    print(f'[multi_seed] wrote {osp.join(work_dir, "multi_seed.md")} and multi_seed.json')
    return result
