"""``tools/misc/demo_detection.py``: detection end to end on a machine without COCO and without
GPUs (``make demo``).

1. writes a small deterministic COCO-format detection set of coloured shapes
   (:mod:`repl_mm.testing.synthetic_coco`) into the work dir;
2. trains RetinaNet with a ResNet-RepL backbone (``configs/demo/retinanet_r34_repl_shapes.py``)
   through ``tools/dist_train.sh`` with 2 processes (gloo on CPU), then its end-to-end twin
   (``configs/demo/retinanet_r34_shapes.py``) the same way;
3. evaluates both final checkpoints with ``tools/test.py`` (pycocotools bbox mAP);
4. measures, in this one process, each model's trainable parameters and the activation memory
   of one training step on the same batch (bytes saved for backward);
5. prints one table side by side and writes ``detection_demo.png`` (both loss curves and the
   metrics) and ``detection_demo.json`` into the work dir.

Every number comes from the runs it makes. Usage::

    .venv/bin/python tools/misc/demo_detection.py [--work-dir work_dirs/demo_detection]
        [--epochs 12] [--nproc 2] [--num-train 96] [--num-val 32]
"""
import argparse
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import torch

from repl_mm.analysis import (
    interleaved_times,
    train_step_fn,
    train_step_saved_bytes,
    trainable_params,
)
from repl_mm.engine import load_config
from repl_mm.testing import make_synthetic_coco

_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: a source checkout (``tools/dist_train.sh`` beside the package) or None when installed
CHECKOUT = osp.dirname(_PACKAGE) if osp.isfile(
    osp.join(osp.dirname(_PACKAGE), 'tools', 'dist_train.sh')) else None
#: where ``configs/`` and ``tools/`` are: the checkout, else the installed ``repl_mm/.mim``
ROOT = CHECKOUT or osp.join(_PACKAGE, '.mim')

MODELS = (('RetinaNet-R34-RepL', 'configs/demo/retinanet_r34_repl_shapes.py'),
          ('RetinaNet-R34 (E2E)', 'configs/demo/retinanet_r34_shapes.py'))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--work-dir', default=osp.join(CHECKOUT or '', 'work_dirs', 'demo_detection'))
    p.add_argument('--epochs', type=int, default=None,
                   help='training epochs (default: the demo config\'s max_epochs)')
    p.add_argument('--nproc', type=int, default=2, help='training processes (torchrun)')
    p.add_argument('--num-train', type=int, default=96)
    p.add_argument('--num-val', type=int, default=32)
    p.add_argument('--seed', type=int, default=0, help='data and training seed')
    p.add_argument('--port', type=int, default=None,
                   help='torchrun master port (default: a free one)')
    p.add_argument('--reps', type=int, default=20,
                   help='timed training steps per model (interleaved, one process)')
    return p.parse_args(argv)


def _train(config: str, work_dir: str, args: argparse.Namespace, port: int,
           env: Dict[str, str]) -> None:
    cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), osp.join(ROOT, config),
           str(args.nproc), '--work-dir', work_dir, '--no-validate',
           '--cfg-options', f'randomness.seed={args.seed}']
    if args.epochs is not None:
        cmd += [f'train_cfg.max_epochs={args.epochs}',
                f'default_hooks.checkpoint.interval={args.epochs}']
    log = osp.join(work_dir, 'dist_train.log')
    os.makedirs(work_dir, exist_ok=True)
    print(f'[demo] training {config} with {args.nproc} processes: {" ".join(cmd[1:])}',
          flush=True)
    with open(log, 'w') as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT,
                             env=dict(env, PORT=str(port)))
    if rc != 0:
        with open(log) as f:
            tail = f.read()[-4000:]
        raise RuntimeError(f'tools/dist_train.sh failed (exit {rc}) for {config}; '
                           f'log {log}:\n{tail}')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _scalars(work_dir: str) -> List[dict]:
    """The training log records of the latest run in ``work_dir`` (written by rank 0)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise RuntimeError(f'no training log (*/vis_data/scalars.json) under {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def _test(config: str, checkpoint: str, work_dir: str) -> Dict[str, float]:
    from .test import main as test_main  # tools/test.py's
    print(f'[demo] evaluating {checkpoint} with tools/test.py', flush=True)
    return test_main([osp.join(ROOT, config), checkpoint, '--work-dir', work_dir,
                      '--cfg-options', 'log_level=WARNING'])


def _measure(seed: int, reps: int) -> Dict[str, Dict[str, float]]:
    """In this one process, for both models on the same training batch: trainable parameters,
    what one training step saves for backward, and the time of a full training step (forward,
    backward, Adam step; median of ``reps`` repetitions run interleaved, ABBA)."""
    from mmengine.runner import Runner

    from ..adapters import build_in_scope
    out, steps = {}, {}
    for name, config in MODELS:
        cfg = load_config(osp.join(ROOT, config))
        torch.manual_seed(seed)
        model = build_in_scope(cfg.model, 'mmdet')
        model.init_weights()
        loader_cfg = dict(cfg.train_dataloader)
        loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
        batch = next(iter(Runner.build_dataloader(loader_cfg, seed=seed)))
        saved = train_step_saved_bytes(model, batch)
        out[name] = {'params': trainable_params(model), 'act_bytes': saved.activation,
                     'synthesis_bytes': saved.synthesis, 'saved_bytes': saved.total}
        opt = cfg.optim_wrapper.optimizer
        steps[name] = train_step_fn(model, batch,
                                    torch.optim.Adam(model.parameters(), lr=opt.lr))
    times = interleaved_times(steps, reps=reps, warmup=2)
    for name in out:
        out[name]['step_time'] = times[name].median
    return out


def _plot(results: Dict[str, dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax, tab) = plt.subplots(1, 2, figsize=(12, 4.5),
                                  gridspec_kw=dict(width_ratios=[1.3, 1]))
    for name, r in results.items():
        ax.plot(r['loss_steps'], r['loss'], label=name)
    ax.set_xlabel('iteration (per process)')
    ax.set_ylabel('training loss, rank 0 (focal + L1)')
    ax.set_title('Loss on the synthetic shapes set')
    ax.grid(alpha=0.3)
    ax.legend()
    tab.axis('off')
    names = list(results)
    rows = [('trainable params (M)', [f"{results[n]['params'] / 1e6:.3f}" for n in names]),
            ('train step (s)', [f"{results[n]['step_time']:.3f}" for n in names]),
            ('activations saved (MB)', [f"{results[n]['act_bytes'] / 2**20:.2f}" for n in names]),
            ('+ synthesized weights (MB)',
             [f"{results[n]['synthesis_bytes'] / 2**20:.2f}" for n in names]),
            ('bbox mAP', [f"{results[n]['bbox_mAP']:.3f}" for n in names]),
            ('bbox mAP@50', [f"{results[n]['bbox_mAP_50']:.3f}" for n in names])]
    table = tab.table(cellText=[v for _, v in rows], rowLabels=[k for k, _ in rows],
                      colLabels=names, loc='center', cellLoc='center')
    table.scale(1, 1.8)
    tab.set_title('Measured by tools/misc/demo_detection.py')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    start = time.time()
    torch.set_num_threads(1)  # like each training process (OMP_NUM_THREADS=1)
    work_dir = osp.abspath(args.work_dir)
    data_root = osp.join(work_dir, 'data') + '/'
    make_synthetic_coco(data_root, num_train=args.num_train, num_val=args.num_val,
                        seed=args.seed)
    print(f'[demo] synthetic COCO-format set: {args.num_train} train / {args.num_val} val '
          f'images in {data_root}', flush=True)
    os.environ['SHAPES_ROOT'] = data_root  # read by the demo configs ({{$SHAPES_ROOT:...}})
    # the demo trains on CPU processes on purpose where there is no GPU (repl_mm.engine.runner.dist)
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               REPL_MM_ALLOW_CPU_DIST='1',
               PYTHONPATH=(CHECKOUT or '') + os.pathsep + os.environ.get('PYTHONPATH', ''))
    results: Dict[str, dict] = {}
    for i, (name, config) in enumerate(MODELS):
        run_dir = osp.join(work_dir, osp.splitext(osp.basename(config))[0])
        _train(config, run_dir, args, args.port + i if args.port else _free_port(), env)
        records = [r for r in _scalars(run_dir) if 'loss' in r]
        times = [r['time'] for r in records[1:]] or [r['time'] for r in records]
        with open(osp.join(run_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        metrics = _test(config, checkpoint, osp.join(run_dir, 'test'))
        if 'coco/bbox_mAP' not in metrics:  # CocoMetric returns nothing without detections
            print(f'[demo] {name}: no detection above the score threshold: mAP 0', flush=True)
        results[name] = dict(
            config=config, checkpoint=checkpoint,
            loss_steps=[r['step'] for r in records], loss=[r['loss'] for r in records],
            log_step_time=sum(times) / len(times),
            bbox_mAP=float(metrics.get('coco/bbox_mAP', 0.0)),
            bbox_mAP_50=float(metrics.get('coco/bbox_mAP_50', 0.0)))
    for name, measured in _measure(args.seed, args.reps).items():
        results[name].update(measured)

    names = [n for n, _ in MODELS]
    repl, e2e = (results[n] for n in names)
    width = 24
    print('\n' + ' ' * 30 + ''.join(f'{n:>{width}}' for n in names) + f'{"RepL vs E2E":>{width}}')
    for label, key, fmt, scale in (('trainable params', 'params', '{:,.0f}', 1),
                                   ('train step, 1 process (s)', 'step_time', '{:.3f}', 1),
                                   ('2-process train log (s/iter)', 'log_step_time', '{:.3f}',
                                    1),
                                   ('activations saved (MB)', 'act_bytes', '{:.2f}', 2**20),
                                   ('+ synthesized weights (MB)', 'synthesis_bytes', '{:.2f}',
                                    2**20),
                                   ('= saved for backward (MB)', 'saved_bytes', '{:.2f}', 2**20),
                                   ('bbox mAP', 'bbox_mAP', '{:.3f}', 1),
                                   ('bbox mAP@50', 'bbox_mAP_50', '{:.3f}', 1)):
        cells = [fmt.format(results[n][key] / scale) for n in names]
        rel = (f'{(repl[key] - e2e[key]) / e2e[key] * 100:+.1f}%' if e2e[key] else '')
        print(f'{label:<30}' + ''.join(f'{c:>{width}}' for c in cells) + f'{rel:>{width}}')
    print('activations: tensors computed from the batch; synthesized weights: the computing '
          'layers\' operators (M_aux of eq. 58),\nwhich do not grow with batch or image size. '
          'Train step: median of interleaved steps in one process (1 thread); train log: mean '
          's/iter of the 2-process runs.')
    png = osp.join(work_dir, 'detection_demo.png')
    _plot(results, png)
    with open(osp.join(work_dir, 'detection_demo.json'), 'w') as f:
        json.dump(results, f, indent=1)
    print(f'\n[demo] wrote {png} and detection_demo.json; {time.time() - start:.0f} s in all',
          flush=True)
    return results


if __name__ == '__main__':
    main()
