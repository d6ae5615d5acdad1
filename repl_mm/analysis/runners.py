"""The benchmark runners behind ``tools/analysis_tools/{benchmark,plan,benchmark_report}.py``:
a RepL model against its E2E twin, measured in one run and predicted by the cost model of
eq. 42-58 (paper §IV-B Tables I-II, §IV-D1c Table IX, §IV-D1e Tables XI-XII, §V-B).

* :class:`TrainStepBenchmark`: per scope (backbone / whole model) and variant (plain, ``+cp``,
  ``+sd``) the parameters, FLOPs, bytes saved for backward, CUDA peak memory and interleaved
  step times, the cost-model predictions of the same figures and the targets;
* :class:`InferenceBenchmark`: E2E, dynamic RepL and deploy RepL in eval mode (eq. 32-33);
* :func:`run_benchmark`: both, from two :class:`~repl_mm.analysis.specs.ModelSpec`;
* :func:`predict_plan`: the prediction alone, before any training (meta device);
* :func:`train_step_saved_bytes`, :func:`train_step_fn`: one mmengine training step of a
  toolbox model under the counters (the detection demo).
"""
import copy
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..deploy.benchmark import amp_inference_rows
from ..testing.batches import synthetic_batch
from . import cost_model as cost
from .counters import (
    FusedAttentionOnMeta,
    SavedBytes,
    SavedTensorCounter,
    count_flops,
    count_saved_bytes,
    flatten_tensors,
    flop_counter,
    max_abs_diff,
    num_params,
    ratio_or_none,
)
from .specs import ModelSpec, build_model, e2e_twin, make_optimizer
from .timing import (
    bootstrap_ci,
    cuda_peak_memory,
    interleaved_times,
    machine_info,
    paired_ratio,
    paired_ratios,
    resolve_clock,
)

__all__ = ['BenchmarkOptions', 'backbone_loss', 'measure_step', 'build_variants',
           'TrainStepBenchmark', 'InferenceBenchmark', 'run_benchmark', 'predict_plan',
           'trainable_params', 'train_step_fn', 'train_step_saved_bytes', 'ConfigBuildError',
           'build_from_config_alone']


@dataclass
class BenchmarkOptions:
    """Options of :func:`run_benchmark`.

    Args:
        batch_size (int): training batch.
        device (str): ``'cpu'`` or ``'cuda'``.
        reps (int), warmup (int): timed and warm-up repetitions of the interleaved timers.
        scopes (Sequence[str]): ``'backbone'`` (where RepL acts) and/or ``'model'`` (the whole
            classifier / detector / segmentor, with its loss).
        compat (bool): also measure RepL and E2E with activation checkpointing
            (``with_cp=True``) and with stochastic depth (``drop_path_rate``) (Table IX).
        drop_path_rate (float): the stochastic-depth rate of the compat runs.
        inference (bool): measure inference latency of E2E, dynamic RepL and deploy RepL
            (Tables XI-XII).
        infer_batch_sizes (Sequence[int], optional): inference batches (default: batch_size).
        channels_last (bool), compile (bool): inference backends applied to every model.
        amp (bool): also time E2E and deploy RepL inference under autocast (fp16 / bf16 where
            the device supports it; bf16 on CPU), beside fp32 (Tables XI-XII "AMP" rows).
        train_time (bool): time training steps and inference (False: counts only).
        training (bool): measure training at all (False: inference only).
        clock (str): ``'auto'`` (CPU time of the process on a CPU device, wall time with
            synchronisation on CUDA), ``'wall'`` or ``'cpu'`` (:func:`resolve_clock`).
        seed (int): RNG seed of weights and data.
    """
    batch_size: int = 2
    device: str = 'cpu'
    reps: int = 10
    warmup: int = 2
    scopes: Sequence[str] = ('backbone', 'model')
    compat: bool = False
    drop_path_rate: float = 0.1
    inference: bool = True
    infer_batch_sizes: Optional[Sequence[int]] = None
    channels_last: bool = False
    compile: bool = False
    amp: bool = False
    train_time: bool = True
    training: bool = True
    clock: str = 'auto'
    seed: int = 0

    def check(self) -> None:
        for name in ('batch_size', 'reps'):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f'{name} must be an int >= 1, got {v!r}')
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f'warmup must be an int >= 0, got {self.warmup!r}')
        bad = [s for s in self.scopes if s not in ('backbone', 'model')]
        if bad or not self.scopes:
            raise ValueError(f"scopes must be a non-empty subset of ('backbone', 'model'), "
                             f'got {self.scopes!r}')
        try:
            kind = torch.device(self.device).type
        except RuntimeError:
            kind = None
        if kind not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        resolve_clock(self.clock, self.device)


def backbone_loss(out) -> Tensor:
    """A loss over every backbone output (the mean of each), to drive backward through the
    backbone alone."""
    return sum(t.float().mean() for t in flatten_tensors(out))


def _loss_fn(model: nn.Module, scope: str, x: Tensor, samples: list) -> Callable[[], Tensor]:
    if scope == 'backbone':
        return lambda: backbone_loss(model.backbone(x))
    return lambda: model.parse_losses(model.loss(x, samples))[0]


def _infer_fn(model: nn.Module, scope: str, x: Tensor) -> Callable[[], Any]:
    if scope == 'backbone':
        return lambda: model.backbone(x)
    return lambda: model(x, None, mode='tensor')


def _twin(name: str) -> str:
    """``'repl+cp'`` -> ``'e2e+cp'`` (E2E names map to themselves)."""
    return 'e2e' + name[len('repl'):] if name.startswith('repl') else name


def measure_step(model: nn.Module, loss_fn: Callable[[], Tensor]) -> Dict[str, Any]:
    """One instrumented training step: bytes saved by the forward (activation / synthesis,
    :class:`~repl_mm.analysis.counters.SavedTensorCounter`, eq. 58), forward FLOPs and
    forward + backward FLOPs (eq. 53, 76)."""
    with flop_counter() as fc:
        with torch.enable_grad(), SavedTensorCounter(model) as counter:
            loss = loss_fn()
        fwd = fc.get_total_flops()
        loss.backward()
    model.zero_grad(set_to_none=True)
    saved = counter.result
    return dict(activation=saved.activation, synthesis=saved.synthesis, flops=fwd,
                train_flops=fc.get_total_flops())


def build_variants(repl: ModelSpec, e2e: ModelSpec, opts: BenchmarkOptions,
                   notes: List[str]) -> Dict[str, nn.Module]:
    """The models of a benchmark, in train mode on ``opts.device``: ``e2e`` and ``repl``, and
    with ``opts.compat`` the activation-checkpointing (``+cp``) and stochastic-depth
    (``+sd``) pairs of Table IX. A compat pair the backbone does not support (a ViT has no
    ``with_cp``) is skipped with a line in ``notes``."""
    variants = {'': {}}
    if opts.compat:
        variants['+cp'] = {'with_cp': True}
        variants['+sd'] = {'drop_path_rate': opts.drop_path_rate}
    models: Dict[str, nn.Module] = {}
    for suffix, overrides in variants.items():
        try:
            pair = {f'e2e{suffix}': build_model(e2e, overrides),
                    f'repl{suffix}': build_model(repl, overrides)}
        except TypeError as err:  # e.g. a ViT has no with_cp
            if not suffix:
                raise
            notes.append(f'variant {suffix} skipped: {err}')
            continue
        models.update(pair)
    for m in models.values():
        m.to(opts.device).train()
    return models


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
        self.sites: Dict[str, List[cost.SiteCost]] = {}
        self.site_fns: Dict[str, Callable[[], None]] = {}

    def _optimizer(self, params) -> torch.optim.Optimizer:
        return make_optimizer(self.spec.optimizer, params)

    def prepare_sites(self) -> None:
        """Local measurements of every removed site of every RepL variant (meta device: shapes
        only) and, when timing, the training-step callables of the sites."""
        e2e = self.models['e2e']
        block_inputs = cost.capture_block_inputs(
            e2e.backbone, lambda: _loss_fn(e2e, 'backbone', self.x, self.samples)())
        e2e.zero_grad(set_to_none=True)
        for name in self.models:
            if name.startswith('repl'):
                self.sites[name] = cost.site_costs(self.models[_twin(name)].backbone,
                                                   self.models[name].backbone, block_inputs,
                                                   device='meta')
        if not self.opts.train_time:
            return
        for name, sites in self.sites.items():
            for k, f in cost.site_step_fns(sites, self.models[_twin(name)].backbone,
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
            cost.assign_site_times(sites, {k[len(name) + 1:]: t for k, t in times.items()
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
                time_ratio = cost.paired_time_ratio(
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


def _noisy_check(name: str, value: float, ci: Sequence[float], target: float,
                 passes: Callable[[float], bool], relation: str) -> dict:
    """A timing target: ``ok`` if the median passes, ``noise`` if only some value inside its
    95% bootstrap interval does (the machine's noise hides the answer), ``MISS`` otherwise."""
    lo, hi = ci
    probe = [lo, hi] + ([target] if lo <= target <= hi else [])
    status = 'ok' if passes(value) else ('noise' if any(passes(v) for v in probe) else 'MISS')
    return dict(name=name, value=value, ci=[lo, hi], target=target, relation=relation,
                ok=status == 'ok', status=status)


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


def _check_fixed_plan(repl: ModelSpec, rb: nn.Module) -> None:
    """The cost model and the benchmark compare a fixed removal plan with E2E.

    Raises:
        ValueError: the backbone is not RepL, or it is Adaptive-RepL (``adaptive=True`` keeps
            every block and re-selects the replaced ones each epoch, so there is no fixed plan
            whose savings could be predicted or measured).
    """
    if not hasattr(rb, 'removal_plan'):
        raise ValueError(f'{repl.source}: backbone {type(rb).__name__} has no removal_plan '
                         '(is it a RepL backbone?)')
    if getattr(rb, 'adaptive', False):
        raise ValueError(f'{repl.source}: backbone {type(rb).__name__} has adaptive=True: '
                         'Adaptive-RepL keeps every block (and a computing layer per candidate) '
                         'and changes the replaced set each epoch, so it has no fixed plan to '
                         'predict or benchmark; use the fixed RepL config (adaptive=False)')
    if not any(rb.removal_plan):
        raise ValueError(
            f'{repl.source}: the plan removes no block (interval '
            f"{getattr(rb, 'interval', None)!r}, replace_blocks "
            f"{getattr(rb, 'replace_blocks', None)!r}): RepL is then the E2E model and there is "
            'nothing to predict or benchmark; use an interval smaller than the stage lengths '
            '(e.g. 4) or a non-empty replace_blocks')


def _removal_info(repl: ModelSpec, models: Dict[str, nn.Module]) -> Dict[str, Any]:
    rb = models['repl'].backbone
    _check_fixed_plan(repl, rb)
    stages = cost.backbone_stages(models['e2e'].backbone)
    return dict(plan=rb.removal_plan, interval=getattr(rb, 'interval', None),
                replace_blocks=getattr(rb, 'replace_blocks', None),
                num_blocks=[len(s) for s in stages],
                num_removed=sum(len(p) for p in rb.removal_plan))


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


class ConfigBuildError(ValueError):
    """The model of a config cannot be built from the config alone (one line: the config,
    what is missing and the fix)."""


def build_from_config_alone(spec: ModelSpec) -> nn.Module:
    """:func:`build_model`, turning any build failure into one :class:`ConfigBuildError`
    line naming the config and the missing piece (a data file the model reads, an unknown
    type, a bad argument)."""
    try:
        return build_model(spec)
    except Exception as e:  # registries wrap the builder's errors in their own types
        msg = ' '.join(str(e).split()) or type(e).__name__
        hint = ('; the model reads that file to size itself: give the size in the config '
                'instead (e.g. model.vocab_size=V with model.vocab_from=None) or make the file '
                'reachable' if isinstance(e, FileNotFoundError) else '')
        raise ConfigBuildError(f'{spec.source}: the model cannot be built from the config: '
                               f'{type(e).__name__}: {msg[:400]}{hint}') from None


def predict_plan(repl: ModelSpec, e2e: Optional[ModelSpec] = None, batch_size: int = 1,
                 scope: str = 'backbone', device='meta') -> Dict[str, Any]:
    """Which blocks ``repl`` removes and what that saves, predicted from the E2E model alone
    (eq. 42, 53, 55, 58): nothing of the RepL model is run except its computing layers
    inside their local triples.

    Args:
        repl (ModelSpec): the RepL model.
        e2e (ModelSpec, optional): its E2E twin (default: :func:`e2e_twin`).
        batch_size (int): batch of the activation-memory and FLOP predictions.
        scope (str): ``'backbone'`` or ``'model'`` (the whole model with its loss; needs a
            real device, the meta device cannot run detection losses).
        device: ``'meta'`` (default: shapes only, no computation) or a real device.

    Returns:
        dict: ``cost`` (:meth:`CostModel.as_dict`), ``blocks`` (names per stage), plan info.
    """
    if scope not in ('backbone', 'model'):
        raise ValueError(f"scope must be 'backbone' or 'model', got {scope!r}")
    device = torch.device(device)
    if scope == 'model' and device.type == 'meta':
        raise ValueError("scope='model' runs the loss, which the meta device cannot: "
                         "pass device='cpu'")
    e2e = e2e or e2e_twin(repl)
    e2e_model, repl_model = build_from_config_alone(e2e), build_from_config_alone(repl)
    rb = repl_model.backbone
    _check_fixed_plan(repl, rb)
    module = e2e_model.backbone if scope == 'backbone' else e2e_model
    params, trainable = num_params(module), num_params(module, True)
    e2e_model.to(device).train()
    x, samples = synthetic_batch(e2e_model, repl.scope, batch_size, repl.input_size,
                                 'cpu' if device.type == 'meta' else device)
    x = x.to(device)
    loss_fn = _loss_fn(e2e_model, scope, x, samples)
    with FusedAttentionOnMeta():
        block_inputs = cost.capture_block_inputs(e2e_model.backbone, loss_fn)
        e2e_model.zero_grad(set_to_none=True)
        step = measure_step(e2e_model, loss_fn)
    sites = cost.site_costs(e2e_model.backbone, rb, block_inputs, device='meta')
    used_interval = (None if getattr(rb, 'replace_blocks', None) is not None
                     else getattr(rb, 'interval', None))   # an explicit plan has no K
    cm = cost.CostModel(sites, rb.removal_plan, params, trainable, step['flops'],
                        step['activation'], train_flops=step['train_flops'],
                        interval=used_interval)
    stages = cost.backbone_stages(e2e_model.backbone)
    cm.num_blocks = sum(len(st) for st in stages)
    kinds = sorted({cost.block_kind(m) for st in stages for _, m in st.values()})
    tokens = None
    if kinds == ['vit']:
        tokens = block_inputs[stages[0][0][0]]
    return dict(repl=repl.source, e2e=e2e.source, scope=scope, batch_size=batch_size,
                input_size=list(repl.input_size), device=str(device),
                interval=used_interval,
                replace_blocks=getattr(rb, 'replace_blocks', None),
                blocks=[[name for name, _ in st.values()] for st in stages], kinds=kinds,
                tokens=None if tokens is None else list(tokens), cost=cm.as_dict())


# --------------------------------------------------------------------------------------------
# one mmengine training step of a toolbox model (the detection demo)
# --------------------------------------------------------------------------------------------
def trainable_params(model: nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (each shared parameter once, eq. 42)."""
    return num_params(model, trainable=True)


def _mm_loss(model: nn.Module, data_batch: Dict[str, Any]) -> torch.Tensor:
    data = model.data_preprocessor(data_batch, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    return loss


def train_step_fn(model: nn.Module, data_batch: Dict[str, Any],
                  optimizer: torch.optim.Optimizer) -> Callable[[], float]:
    """A closure running one full training step of ``model`` on ``data_batch`` (forward, loss,
    backward, ``optimizer.step()``) and returning the loss, for timing."""
    model.train()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = _mm_loss(model, data_batch)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def train_step_saved_bytes(model: nn.Module, data_batch: Dict[str, Any]) -> SavedBytes:
    """What one mmengine training step of ``model`` saves for backward (eq. 58).

    Runs ``data_preprocessor(batch, training=True)``, ``model(..., mode='loss')`` and
    ``parse_losses`` in train mode on ``data_batch`` (a collated batch of the model's train
    dataloader), as ``BaseModel.train_step`` does, without the optimizer step.

    Returns:
        SavedBytes: ``.total`` is the activation memory of the step (activations plus the
        synthesized operators of the computing layers); parameters are excluded.
    """
    model.train()
    return count_saved_bytes(lambda: _mm_loss(model, data_batch), model)
