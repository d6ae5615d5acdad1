"""Inference of E2E, dynamic RepL and deploy RepL in eval mode (eq. 32-33; paper §IV-D1e
Tables XI-XII)."""
import copy
from typing import Any, Callable, Dict, List

import torch
from torch import Tensor, nn

from ..adapters.batches import synthetic_batch
from ..deploy.benchmark import amp_inference_rows
from .benchmark_models import _infer_fn, _noisy_check
from .benchmark_options import BenchmarkOptions
from .counters import (
    count_flops,
    flatten_tensors,
    max_abs_diff,
)
from .specs import ModelSpec
from .timing import (
    bootstrap_ci,
    interleaved_times,
    paired_ratio,
    paired_ratios,
)

__all__ = ['InferenceBenchmark']


def _prepare_inference(model: nn.Module, opts: BenchmarkOptions) -> nn.Module:
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if opts.compile else model


class InferenceBenchmark:
    """Tables XI-XII: E2E, dynamic RepL and deploy RepL (eq. 32-33) in eval mode, per scope
    and inference batch: the deploy equivalence (max |diff|), the FLOPs of each and,
    when timing, their interleaved latencies.

    Args:
        models (dict): ``'e2e'`` and ``'repl'`` (copied; the originals are not changed).
        spec (ModelSpec): the RepL spec (scope, input size).
        opts (BenchmarkOptions): the options.
        log (callable): progress lines.
    """

    def __init__(self, models: Dict[str, nn.Module], spec: ModelSpec, opts: BenchmarkOptions,
                 log: Callable[[str], None] = print) -> None:
        self.spec, self.opts, self.log = spec, opts, log
        self.device = torch.device(opts.device)
        self.reference = models['e2e']
        self.e2e, self.dynamic, self.deploy = (copy.deepcopy(models[k])
                                               for k in ('e2e', 'repl', 'repl'))
        for m in (self.e2e, self.dynamic, self.deploy):
            m.eval()  # mm backbones' train() returns None: no chaining
        self.deploy.backbone.switch_to_deploy()

    def _batch(self, batch_size: int) -> Tensor:
        xb = synthetic_batch(self.reference, self.spec.scope, batch_size, self.spec.input_size,
                             self.device, seed=self.opts.seed + 1)[0]
        if self.opts.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb

    def _latency(self, scope: str, xb: Tensor, batch_size: int, row: dict) -> None:
        opts = self.opts
        fns = {}
        for k, m in (('e2e', self.e2e), ('dynamic', self.dynamic), ('deploy', self.deploy)):
            f = _infer_fn(_prepare_inference(m, opts), scope, xb)

            def run(f=f):
                with torch.inference_mode():
                    return f()
            fns[k] = run
        self.log(f'[{scope}] timing inference, batch {batch_size}')
        times = interleaved_times(fns, opts.reps, max(opts.warmup, 2 if opts.compile else 1),
                                  self.device, opts.clock)
        row['latency'] = {k: t.median for k, t in times.items()}
        row['latency_ratio'] = paired_ratio(times['deploy'], times['e2e'])
        row['latency_ratio_ci'] = bootstrap_ci(paired_ratios(times['deploy'], times['e2e']))
        row['deploy_speedup_vs_e2e'] = 1 / row['latency_ratio']
        row['deploy_speedup_vs_dynamic'] = 1 / paired_ratio(times['deploy'], times['dynamic'])
        if opts.amp:  # autocast rows of E2E and deploy RepL (ms per image, error vs fp32)
            row['amp'] = {
                k: [vars(r) for r in amp_inference_rows(
                    m, xb, lambda mm, inp, scope=scope: _infer_fn(mm, scope, inp)(),
                    warmup=max(opts.warmup, 1), repeat=opts.reps)]
                for k, m in (('e2e', self.e2e), ('deploy', self.deploy))}

    def row(self, scope: str, batch_size: int) -> Dict[str, Any]:
        """One scope and batch: ``max_abs_diff``, ``max_rel_diff`` (deploy vs dynamic),
        ``flops``, ``flop_ratio`` (deploy / E2E) and, when timing, the latencies."""
        xb = self._batch(batch_size)
        with torch.no_grad():
            ref = _infer_fn(self.dynamic, scope, xb)()
            got = _infer_fn(self.deploy, scope, xb)()
            diff = max_abs_diff(ref, got)
            scale = max(float(t.abs().max()) for t in flatten_tensors(ref))
            flops = {k: count_flops(_infer_fn(m, scope, xb)).total
                     for k, m in (('e2e', self.e2e), ('dynamic', self.dynamic),
                                  ('deploy', self.deploy))}
        row = dict(max_abs_diff=diff, max_rel_diff=diff / max(scale, 1e-12), flops=flops,
                   flop_ratio=flops['deploy'] / flops['e2e'], latency={})
        if self.opts.train_time:
            self._latency(scope, xb, batch_size, row)
        return row

    def run(self) -> Dict[str, Dict[int, dict]]:
        """``{scope: {batch: row}}`` for every scope and inference batch."""
        batches = self.opts.infer_batch_sizes or [self.opts.batch_size]
        return {scope: {b: self.row(scope, b) for b in batches} for scope in self.opts.scopes}

    @staticmethod
    def checks(inference: Dict[str, Dict[int, dict]]) -> List[dict]:
        """The targets: deploy equals dynamic RepL to 1e-5 (relative), and the deploy
        latency ratio is at most the FLOP ratio."""
        checks = []
        for scope, inf in inference.items():
            for b, row in inf.items():
                checks.append(dict(
                    name=f'{scope} deploy == dynamic RepL (batch {b})', value=row['max_rel_diff'],
                    target=1e-5, relation='max |diff| / max |output| <=',
                    ok=row['max_rel_diff'] <= 1e-5))
                if 'e2e' in row['latency']:
                    fr = row['flop_ratio']
                    checks.append(_noisy_check(
                        f'{scope} deploy latency / E2E (batch {b})', row['latency_ratio'],
                        row['latency_ratio_ci'], fr, lambda v, fr=fr: v <= fr,
                        '<= FLOP ratio'))
        return checks
