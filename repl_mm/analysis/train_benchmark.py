"""Training steps of every RepL / E2E pair, measured and predicted by the cost model of eq.
42-58 (paper §IV-B Tables I-II, §IV-D1c Table IX)."""
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from . import cost_model as cost
from .benchmark_models import _loss_fn, _noisy_check, _twin, measure_step
from .benchmark_options import BenchmarkOptions
from .counters import (
    num_params,
    ratio_or_none,
)
from .site_timing import assign_site_times, paired_time_ratio, site_step_fns
from .sites import SiteCost, capture_block_inputs, site_costs
from .specs import ModelSpec, make_optimizer
from .timing import (
    bootstrap_ci,
    cuda_peak_memory,
    interleaved_times,
    paired_ratio,
    paired_ratios,
)

__all__ = ['TrainStepBenchmark']


class TrainStepBenchmark:
    """Training steps of every RepL / E2E pair, measured and predicted.

    Per scope: parameters (all, trainable), forward and training FLOPs, activation and
    synthesis bytes saved by the forward, the CUDA peak memory of a step, interleaved median
    step times (with the paired ratio and its bootstrap 95 % interval); and per RepL variant
    the cost-model predictions of the same figures (eq. 42, 53, 58, 76 and the block-time
    model, from local measurements of every removed site) and the targets.

    Args:
        models (dict): name -> model, from :func:`build_variants`.
        spec (ModelSpec): the RepL spec (scope, optimizer).
        opts (BenchmarkOptions): the options.
        x (Tensor), samples (list): the training batch (:func:`synthetic_batch`).
        plan_info (dict): ``plan``, ``interval``, ``num_blocks`` of the RepL backbone.
        log (callable): progress lines.
    """

    def __init__(self, models: Dict[str, nn.Module], spec: ModelSpec, opts: BenchmarkOptions,
                 x: Tensor, samples: list, plan_info: Dict[str, Any],
                 log: Callable[[str], None] = print) -> None:
        self.models, self.spec, self.opts = models, spec, opts
        self.x, self.samples, self.plan_info, self.log = x, samples, plan_info, log
        self.device = torch.device(opts.device)
        self.sites: Dict[str, List[SiteCost]] = {}
        self.site_fns: Dict[str, Callable[[], None]] = {}

    def _optimizer(self, params) -> torch.optim.Optimizer:
        return make_optimizer(self.spec.optimizer, params)

    def prepare_sites(self) -> None:
        """Local measurements of every removed site of every RepL variant (meta device: shapes
        only) and, when timing, the training-step callables of the sites."""
        e2e = self.models['e2e']
        block_inputs = capture_block_inputs(
            e2e.backbone, lambda: _loss_fn(e2e, 'backbone', self.x, self.samples)())
        e2e.zero_grad(set_to_none=True)
        for name in self.models:
            if name.startswith('repl'):
                self.sites[name] = site_costs(self.models[_twin(name)].backbone,
                                                   self.models[name].backbone, block_inputs,
                                                   device='meta')
        if not self.opts.train_time:
            return
        for name, sites in self.sites.items():
            for k, f in site_step_fns(sites, self.models[_twin(name)].backbone,
                                           self.models[name].backbone, self._optimizer,
                                           self.device).items():
                self.site_fns[f'{name}/{k}'] = f

    def measure(self, scope: str) -> Tuple[Dict[str, dict], Dict[str, Callable[[], None]]]:
        """Counts of every model in ``scope`` and its training-step callable."""
        variants, steps = {}, {}
        for name, model in self.models.items():
            module = model.backbone if scope == 'backbone' else model
            loss_fn = _loss_fn(model, scope, self.x, self.samples)
            v = dict(params=num_params(module), trainable_params=num_params(module, True))
            v.update(measure_step(model, loss_fn))
            optimizer = self._optimizer([p for p in module.parameters() if p.requires_grad])

            def step(loss_fn=loss_fn, optimizer=optimizer):
                optimizer.zero_grad(set_to_none=True)
                loss_fn().backward()
                optimizer.step()
            steps[name] = step
            if self.device.type == 'cuda':
                step()
                v['cuda_peak_bytes'] = cuda_peak_memory(step, self.device)
            variants[name] = v
        return variants, steps

    def time(self, scope: str, variants: Dict[str, dict],
             steps: Dict[str, Callable[[], None]]) -> Dict[str, Any]:
        """Times the model steps and the site steps interleaved; fills the step times and
        ratios (with 95 % bootstrap intervals) into ``variants`` and the site times."""
        opts = self.opts
        self.log(f'[{scope}] timing {len(steps)} training steps and {len(self.site_fns)} site '
                 f'steps interleaved, {opts.reps} reps + {opts.warmup} warm-up')
        times = interleaved_times(dict(steps, **self.site_fns), opts.reps, opts.warmup,
                                  self.device, opts.clock)
        for name, sites in self.sites.items():
            assign_site_times(sites, {k[len(name) + 1:]: t for k, t in times.items()
                                           if k.startswith(name + '/')})
        for name, t in times.items():
            if name not in steps:
                continue
            v = variants[name]
            v['step_time'] = t.median
            v['step_time_iqr'] = [t.q1, t.q3]
            v['step_time_ratio'] = paired_ratio(t, times[_twin(name)])
            v['step_time_ratio_ci'] = bootstrap_ci(paired_ratios(t, times[_twin(name)]))
            v['step_time_vs_e2e'] = paired_ratio(t, times['e2e'])
        return times

    def predict(self, scope: str, variants: Dict[str, dict], times: Optional[Dict[str, Any]],
                checks: list) -> Dict[str, dict]:
        """The cost model of every RepL variant (its E2E twin's counts and the local site
        measurements), beside the measured ratios; appends the targets to ``checks``."""
        predictions = {}
        info = self.plan_info
        for name in self.models:
            if not name.startswith('repl'):
                continue
            ve, vr = variants[_twin(name)], variants[name]
            time_ratio = None
            if times is not None:
                time_ratio = paired_time_ratio(
                    self.sites[name], times[_twin(name)].samples,
                    {k[len(name) + 1:]: t.samples for k, t in times.items()
                     if k.startswith(name + '/')})
            cm = cost.CostModel(self.sites[name], info['plan'], ve['params'],
                                ve['trainable_params'], ve['flops'], ve['activation'],
                                train_flops=ve['train_flops'], time=ve.get('step_time'),
                                interval=info['interval'], time_ratio=time_ratio,
                                num_blocks=sum(info['num_blocks']))
            pred = cm.as_dict()
            measured = {k: ratio_or_none(vr.get(k), ve.get(k)) for k in (
                'params', 'trainable_params', 'flops', 'train_flops', 'activation',
                'cuda_peak_bytes')}
            measured['step_time'] = vr.get('step_time_ratio')
            pred['measured_ratios'] = measured
            pred['synthesis_bytes'] = vr['synthesis']
            predictions[name] = pred
            _checks(checks, scope, name, cm, ve, vr)
        return predictions

    def run(self, checks: list) -> Dict[str, Any]:
        """Every scope of ``opts.scopes``: ``{scope: {'variants': ..., 'predictions': ...}}``;
        the targets are appended to ``checks``."""
        self.prepare_sites()
        scopes = {}
        for scope in self.opts.scopes:
            self.log(f'[{scope}] counting parameters, FLOPs and saved bytes')
            variants, steps = self.measure(scope)
            times = self.time(scope, variants, steps) if self.opts.train_time else None
            scopes[scope] = dict(variants=variants,
                                 predictions=self.predict(scope, variants, times, checks))
        return scopes


def _checks(checks: list, scope: str, name: str, cm, ve: dict, vr: dict) -> None:
    """The targets of the benchmark: params exactly eq. 42, FLOPs eq. 53 up to F_synth,
    activation and step time within 3 percentage points of the prediction."""
    checks.append(dict(name=f'{scope} {name} params == eq. 42', value=vr['params'],
                       target=cm.pred_params, ok=vr['params'] == cm.pred_params))
    checks.append(dict(name=f'{scope} {name} trainable params == eq. 42',
                       value=vr['trainable_params'], target=cm.pred_trainable_params,
                       ok=vr['trainable_params'] == cm.pred_trainable_params))
    checks.append(dict(name=f'{scope} {name} forward FLOPs == eq. 53 (F_synth apart)',
                       value=vr['flops'], target=cm.pred_flops,
                       ok=vr['flops'] == cm.pred_flops))
    pa = cm.pred_activation / ve['activation']
    ma = vr['activation'] / ve['activation']
    checks.append(dict(name=f'{scope} {name} activation ratio vs eq. 58', value=ma, target=pa,
                       relation='within 0.03 of', ok=abs(ma - pa) <= 0.03))
    if cm.pred_time is not None and vr.get('step_time'):
        pt = cm.ratios()['time']
        mt = vr['step_time_ratio']
        checks.append(_noisy_check(f'{scope} {name} step-time ratio vs block cost model', mt,
                                   vr['step_time_ratio_ci'], pt,
                                   lambda v: abs(v - pt) <= 0.03, 'within 0.03 of'))
