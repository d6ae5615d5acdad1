"""The paper's GPU memory and training-time rows, E2E against RepL, measured on one CUDA
device in one run (issue 24 item 5; paper Tables I, II, VIII, XIV): ResNet-110 CIFAR-10,
ResNet-101 and ViT-S/16 ImageNet, RetinaNet-R101 COCO, DeepLabV3+-R101 CityScapes.

Per model (whole model with its loss, synthetic input, the paper's per-GPU batch or the largest
that fits, halving on out-of-memory):

* peak memory of a training step: ``torch.cuda.max_memory_allocated`` after
  ``reset_peak_memory_stats`` (weights, gradients, optimizer state and activations, like the
  paper's "GPU Memory");
* step time: median over ``reps`` steps timed with CUDA events (after ``warmup`` steps);
* the analytic prediction beside them: the activation ratio of eq. 58 and the training-FLOP
  ratio of eq. 76 (:func:`repl_mm.analysis.predict.predict_plan`, meta device), and the paper's
  figures (E2E and RepL GB, time per epoch, and their ratios).

:func:`format_markdown` writes ``docs/benchmarks_cuda.md`` with the GPU's name, driver, torch
and CUDA versions. On a CPU device the same code runs with ``time.perf_counter`` and no peak
memory (the tests do that on a small preset).
"""
import gc
import os
import platform
import statistics
import subprocess
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from ..adapters.batches import synthetic_batch
from .benchmark_models import _loss_fn
from .predict import predict_plan
from .specs import build_model, load_spec, make_optimizer

__all__ = ['ROWS', 'step_times', 'measure_model', 'measure_row', 'run_rows', 'format_markdown',
           'environment']

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cfg(name: str) -> str:
    return os.path.join(_ROOT, 'configs', name)


#: ``paper``: (E2E GB, RepL GB, E2E time, RepL time, time unit); ``batch``: the paper's batch
#: per GPU (ImageNet and COCO ran on 4 GPUs: 512/4, 1024/4, 8/4).
ROWS: List[Dict[str, Any]] = [
    dict(key='resnet110-cifar10', label='ResNet-110, CIFAR-10 (Table I)',
         repl=_cfg('cifar-resnet110_repl_cifar10.py'), e2e=_cfg('cifar-resnet110_cifar10.py'),
         batch=1024, input_size=None, paper=(9.31, 7.62, 26.19, 20.93, 's/epoch')),
    dict(key='resnet101-imagenet', label='ResNet-101, ImageNet (Table II)',
         repl=_cfg('resnet101_repl_imagenet.py'), e2e=_cfg('resnet101_imagenet.py'),
         batch=128, input_size=None, paper=(20.95, 18.05, 720.11, 616.23, 's/epoch')),
    dict(key='vit-s16-imagenet', label='ViT-S/16, ImageNet (Table II)',
         repl=_cfg('vit-small-p16_repl_imagenet.py'), e2e=_cfg('vit-small-p16_imagenet.py'),
         batch=256, input_size=None, paper=(21.05, 16.22, 798.61, 617.10, 's/epoch')),
    dict(key='retinanet-r101-coco', label='RetinaNet-R101, COCO (Table VIII)',
         repl=_cfg('retinanet_r101_repl_coco.py'), e2e=_cfg('retinanet_r101_coco.py'),
         batch=2, input_size=None, paper=(8.19, 6.65, 5548.09, 4671.33, 's/epoch')),
    dict(key='deeplabv3plus-r101-cityscapes', label='DeepLabV3+-R101, CityScapes (Table XIV)',
         repl=_cfg('deeplabv3plus_r101_repl_cityscapes.py'),
         e2e=_cfg('deeplabv3plus_r101_cityscapes.py'), batch=16, input_size=(768, 768),
         paper=(34.42, 28.92, 101.0, 86.0, 's/epoch')),
]


def step_times(step: Callable[[], None], reps: int, warmup: int, device) -> List[float]:
    """Milliseconds of ``reps`` calls of ``step`` after ``warmup`` calls: CUDA events on a CUDA
    device (each call between a recorded start and end event, synchronised), else
    ``time.perf_counter``."""
    device = torch.device(device)
    for _ in range(warmup):
        step()
    out = []
    for _ in range(reps):
        if device.type == 'cuda':
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            out.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            step()
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def measure_model(spec, batch: int, device, reps: int, warmup: int) -> Dict[str, Any]:
    """Peak memory and step times of one model's training step (whole model, its loss, its
    paper optimizer) on a synthetic batch; the model is freed before returning."""
    device = torch.device(device)
    try:
        return _measure(spec, batch, device, reps, warmup)
    finally:
        gc.collect()
        if device.type == 'cuda':
            torch.cuda.empty_cache()


def _measure(spec, batch: int, device: torch.device, reps: int, warmup: int) -> Dict[str, Any]:
    model = build_model(spec).to(device).train()
    x, samples = synthetic_batch(model, spec.scope, batch, spec.input_size, device)
    loss_fn = _loss_fn(model, 'model', x, samples)
    opt = make_optimizer(spec.optimizer, [p for p in model.parameters() if p.requires_grad])

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()
    out: Dict[str, Any] = {}
    if device.type == 'cuda':
        step()  # optimizer state allocated before the peak is taken
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        out['peak_bytes'] = torch.cuda.max_memory_allocated(device)
    times = step_times(step, reps, warmup, device)
    out.update(step_ms=statistics.median(times), step_ms_q=[min(times), max(times)])
    return out


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, getattr(torch.cuda, 'OutOfMemoryError', ())) or \
        'out of memory' in str(err).lower()


def measure_row(row: Dict[str, Any], device, reps: int = 10, warmup: int = 3,
                batch: Optional[int] = None, max_halvings: int = 6,
                measure: Callable[..., Dict[str, Any]] = measure_model) -> Dict[str, Any]:
    """E2E and RepL of one row at ``batch`` (default the paper's), halving the batch for both
    when either runs out of memory, so that the two are always compared at the same batch."""
    repl = load_spec(row['repl'], input_size=row.get('input_size'))
    e2e = load_spec(row['e2e'], input_size=row.get('input_size') or repl.input_size)
    b = batch or row['batch']
    notes = []
    for _ in range(max_halvings + 1):
        try:
            res = {'e2e': measure(e2e, b, device, reps, warmup),
                   'repl': measure(repl, b, device, reps, warmup)}
            break
        except RuntimeError as err:
            if not _is_oom(err) or b == 1:
                raise
            notes.append(f'batch {b} ran out of memory')
            b //= 2
    else:
        raise RuntimeError(f'{row["key"]}: out of memory down to batch {b}')
    out: Dict[str, Any] = dict(key=row['key'], label=row['label'], batch=b,
                               paper_batch=row['batch'], input_size=list(repl.input_size),
                               notes=notes, **res)
    for k in ('peak_bytes', 'step_ms'):
        if res['e2e'].get(k) and res['repl'].get(k) is not None:
            out[f'{k}_ratio'] = res['repl'][k] / res['e2e'][k]
    try:
        cost = predict_plan(repl, e2e, batch_size=1, scope='backbone')['cost']['ratios']
        out['predicted'] = dict(activation=cost.get('activation'),
                                train_flops=cost.get('train_flops'),
                                params=cost.get('params'))
    except Exception as err:  # noqa: BLE001 -- reported in the table, not hidden
        out['predicted'] = dict(error=f'{type(err).__name__}: {err}')
    pe, pr, te, tr, unit = row['paper']
    out['paper'] = dict(e2e_gb=pe, repl_gb=pr, mem_ratio=pr / pe, e2e_time=te, repl_time=tr,
                        time_ratio=tr / te, time_unit=unit)
    return out


def environment(device) -> Dict[str, Any]:
    """GPU name, driver, torch and CUDA versions (what the rows were measured on)."""
    device = torch.device(device)
    env = dict(torch=torch.__version__, cuda=torch.version.cuda, python=platform.python_version(),
               host=platform.node(), cpus=os.cpu_count())
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
        env['gpu_memory_gib'] = round(torch.cuda.get_device_properties(device).total_memory
                                      / 2**30, 1)
        try:
            env['driver'] = subprocess.run(
                ['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            env['driver'] = '?'
    else:
        env['gpu'] = f'none ({device.type})'
    return env


def run_rows(keys: Optional[Sequence[str]], device, reps: int, warmup: int,
             batch: Optional[int] = None, log: Callable[[str], None] = print,
             on_row: Optional[Callable[[List[Dict[str, Any]]], None]] = None
             ) -> List[Dict[str, Any]]:
    """:func:`measure_row` for the rows ``keys`` (all when None); a row that fails is kept
    with its error; ``on_row`` gets the rows so far after each one (to write them at once, so
    that a run killed later keeps what it measured)."""
    wanted = [r for r in ROWS if keys is None or r['key'] in keys]
    unknown = set(keys or ()) - {r['key'] for r in ROWS}
    if unknown:
        raise ValueError(f'--rows: unknown {sorted(unknown)}; allowed: '
                         f'{[r["key"] for r in ROWS]}')
    out = []
    for row in wanted:
        t0 = time.time()
        try:
            res = measure_row(row, device, reps, warmup, batch)
        except Exception as err:  # noqa: BLE001 -- one bad row does not lose the others
            res = dict(key=row['key'], label=row['label'], error=f'{type(err).__name__}: {err}')
        res['seconds'] = round(time.time() - t0, 1)
        log(f'benchmark_cuda: {row["key"]}: {res.get("error") or "done"} '
            f'({res["seconds"]} s)')
        out.append(res)
        if on_row is not None:
            on_row(out)
    return out


def _gib(b: Optional[float]) -> str:
    return '-' if b is None else f'{b / 2**30:.2f}'


def _r(x: Optional[float]) -> str:
    return '-' if x is None else f'{x:.3f}'


def format_markdown(rows: Sequence[Dict[str, Any]], env: Dict[str, Any],
                    command: str = '') -> str:
    """``docs/benchmarks_cuda.md``: one table of measured / predicted / paper ratios and one of
    the absolute figures, with the environment and how it was made."""
    lines = ['# GPU benchmark rows: E2E vs RepL (paper Tables I, II, VIII, XIV)', '',
             f'Measured by `tools/gpu_check.sh` on **{env.get("gpu")}** '
             f'({env.get("gpu_memory_gib", "?")} GiB), driver {env.get("driver", "-")}, '
             f'torch {env.get("torch")}, CUDA {env.get("cuda")}, Python {env.get("python")}, '
             f'{env.get("cpus")} CPUs, {env.get("utc", "")}.', '',
             'Whole model with its loss, synthetic input, one GPU; peak memory = '
             '`torch.cuda.max_memory_allocated` of a training step (weights, gradients, '
             'optimizer state, activations); step time = median of CUDA-event timed steps. '
             'Ratios are RepL / E2E (below 1: RepL saves). Predicted: activation ratio '
             '(eq. 58) and training-FLOP ratio (eq. 76) from the analytic cost model. Paper: '
             'its GB and s/epoch (4 GPUs for ImageNet and COCO; the batch here is the paper\'s '
             'per-GPU batch or the largest that fit).', '',
             '| model | batch | memory ratio | predicted activation ratio | paper memory '
             'ratio | step-time ratio | predicted train-FLOP ratio | paper time ratio |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        if 'error' in r:
            lines.append(f'| {r["label"]} | - | failed: {r["error"][:120]} | | | | | |')
            continue
        p, q = r.get('predicted', {}), r['paper']
        lines.append(f'| {r["label"]} | {r["batch"]} (paper {r["paper_batch"]}) | '
                     f'{_r(r.get("peak_bytes_ratio"))} | {_r(p.get("activation"))} | '
                     f'{_r(q["mem_ratio"])} | {_r(r.get("step_ms_ratio"))} | '
                     f'{_r(p.get("train_flops"))} | {_r(q["time_ratio"])} |')
    lines += ['', '| model | E2E peak GiB | RepL peak GiB | paper E2E / RepL GB | E2E step ms '
              '| RepL step ms | paper E2E / RepL time | notes |',
              '|---|---|---|---|---|---|---|---|']
    for r in rows:
        if 'error' in r:
            continue
        q = r['paper']
        lines.append(f'| {r["label"]} | {_gib(r["e2e"].get("peak_bytes"))} | '
                     f'{_gib(r["repl"].get("peak_bytes"))} | {q["e2e_gb"]} / {q["repl_gb"]} | '
                     f'{r["e2e"]["step_ms"]:.1f} | {r["repl"]["step_ms"]:.1f} | '
                     f'{q["e2e_time"]} / {q["repl_time"]} {q["time_unit"]} | '
                     f'{"; ".join(r.get("notes") or []) or "-"} |')
    if command:
        lines += ['', f'Command: `{command}`']
    return '\n'.join(lines) + '\n'
