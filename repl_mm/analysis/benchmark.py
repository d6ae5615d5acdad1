"""The benchmark run behind ``tools/analysis_tools/benchmark.py`` / ``benchmark_report.py``: a
RepL model against its E2E twin, measured in one run and predicted by the cost model of eq.
42-58 (:class:`~.train_benchmark.TrainStepBenchmark`,
:class:`~.inference_benchmark.InferenceBenchmark`)."""
from typing import Any, Dict, Optional

import torch

from ..adapters.batches import synthetic_batch
from .benchmark_models import _removal_info, build_variants
from .benchmark_options import BenchmarkOptions
from .inference_benchmark import InferenceBenchmark
from .specs import ModelSpec, e2e_twin
from .timing import (
    machine_info,
    resolve_clock,
)
from .train_benchmark import TrainStepBenchmark

__all__ = ['run_benchmark']


def run_benchmark(repl: ModelSpec, e2e: Optional[ModelSpec] = None,
                  opts: Optional[BenchmarkOptions] = None, log=print) -> Dict[str, Any]:
    """Measures a RepL model against its E2E twin, in one run, and predicts the same figures
    with the cost model of eq. 42-58 (:mod:`repl_mm.analysis.cost_model`).

    Training (:class:`TrainStepBenchmark`, when ``opts.training``) and inference
    (:class:`InferenceBenchmark`, when ``opts.inference``) on the same models and batch.

    Args:
        repl (ModelSpec): the RepL model.
        e2e (ModelSpec, optional): its E2E twin (default: :func:`e2e_twin`).
        opts (BenchmarkOptions, optional): the options (validated).
        log (callable): progress lines.

    Returns:
        dict: JSON-serialisable results (printed by
        :func:`repl_mm.analysis.report.format_report`).
    """
    opts = opts or BenchmarkOptions()
    opts.check()
    e2e = e2e or e2e_twin(repl)
    device = torch.device(opts.device)
    torch.manual_seed(opts.seed)
    res: Dict[str, Any] = dict(repl=repl.source, e2e=e2e.source, input_size=list(repl.input_size),
                               clock=resolve_clock(opts.clock, device),
                               machine=machine_info(device), options=dict(
                                   (k, getattr(opts, k)) for k in opts.__dataclass_fields__),
                               scopes={}, checks=[], notes=[])
    models = build_variants(repl, e2e, opts, res['notes'])
    info = _removal_info(repl, models)
    res.update(info)
    x, samples = synthetic_batch(models['e2e'], repl.scope, opts.batch_size, repl.input_size,
                                 device, seed=opts.seed)
    log(f'benchmark: {repl.source} vs {e2e.source}, plan {info["plan"]} '
        f'({info["num_removed"]} of {sum(info["num_blocks"])} blocks), input '
        f'{opts.batch_size}x3x{repl.input_size[0]}x{repl.input_size[1]} on {device}')
    if opts.training:
        res['scopes'] = TrainStepBenchmark(models, repl, opts, x, samples, info,
                                           log).run(res['checks'])
    if opts.inference:
        res['inference'] = InferenceBenchmark(models, repl, opts, log).run()
        res['checks'] += InferenceBenchmark.checks(res['inference'])
    return res
