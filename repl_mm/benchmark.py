"""Measurement helpers for the RepL benchmarks (paper §IV-B Tables I-II, §IV-D1c Table IX,
§IV-D1e Tables XI-XII, §V-B eq. 42-58).

Everything here measures; :mod:`repl_mm.cost` turns the measurements of the E2E model into
the predictions of eq. 42-58, and ``tools/benchmark.py`` puts both side by side.

* :class:`SavedTensorCounter` / :func:`count_saved_bytes`: the activation memory of a
  training step, i.e. the bytes autograd keeps for backward (``S`` of eq. 58), counted once
  per unique storage through ``torch.autograd.graph.saved_tensors_hooks``. Each saved
  storage is classified as

  - ``parameter``: a parameter or buffer (or a view / ``detach`` of one); it lives anyway and
    is not activation memory;
  - ``synthesis``: derived from parameters only (never from the batch), e.g. the neighbour
    kernels normalised by eq. 9 and the synthesized operator W_hat that the computing layer
    convolves with (eq. 10, 14, 20, 25). This is ``M_aux`` of eq. 58; it does not grow with
    the batch;
  - ``activation``: everything computed from the batch.

  The parameter-only provenance is traced by a ``TorchDispatchMode`` that follows storages
  from operator inputs to outputs.
* :func:`count_flops`: forward (or forward + backward) FLOPs with
  ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add; convolutions,
  matrix products and attention are counted exactly, element-wise operations not), with the
  FLOPs of chosen modules attributed to them.
* :func:`interleaved_times`: wall-clock medians of several callables measured in one run,
  interleaved in ABBA order so that the drift of a shared machine hits all of them alike.
* :func:`cuda_peak_memory`: ``torch.cuda.max_memory_allocated`` above the baseline.
* :func:`max_abs_diff`: the largest difference between two (nested) outputs, for the deploy
  equivalence of eq. 32-33.

The second half is the runner behind ``tools/benchmark.py``, ``tools/plan.py`` and
``tools/benchmark_report.py``: :func:`load_spec` (a config file or a :data:`PRESETS` name),
:func:`e2e_twin`, :func:`build_model`, :func:`run_benchmark` (RepL vs E2E in one run, with
the :mod:`repl_mm.cost` predictions and the targets), :func:`predict_plan` and the text
formatters.
"""
import copy
import json
import os
import platform
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

__all__ = ['SavedBytes', 'SavedTensorCounter', 'count_saved_bytes', 'FlopCount', 'count_flops',
           'count_elementwise_flops', 'flop_counter', 'FusedAttentionOnMeta', 'Timing',
           'CLOCKS', 'resolve_clock', 'interleaved_times', 'paired_ratio', 'paired_ratios',
           'bootstrap_ci', 'cuda_peak_memory', 'max_abs_diff',
           'synchronize', 'storage_key', 'num_params', 'REPL_ARGS', 'PRESETS', 'ModelSpec',
           'load_spec', 'e2e_twin', 'build_model', 'make_optimizer', 'synthetic_batch',
           'backbone_loss', 'machine_info', 'BenchmarkOptions', 'measure_step', 'run_benchmark',
           'format_report', 'save_json', 'predict_plan', 'format_plan']


def storage_key(t: Tensor) -> int:
    """An id of the storage behind ``t``, shared by all its views (also on the meta device,
    where every ``data_ptr`` is 0)."""
    return t.untyped_storage()._cdata


def num_params(module: nn.Module, trainable: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if
    ``trainable``), each shared parameter counted once."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def synchronize(device) -> None:
    """Waits for the device's queued work (CUDA); a no-op on CPU."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------------
# activation memory (eq. 58)
# --------------------------------------------------------------------------------------------
@dataclass
class SavedBytes:
    """Bytes kept for backward by one forward pass, unique storages counted once.

    Attributes:
        activation (int): storages computed from the batch (the activation memory ``S``).
        synthesis (int): storages computed from parameters only (``M_aux`` of eq. 58: the
            synthesized operators and their normalised sources).
        parameter (int): saved parameters and buffers (not activation memory; reported for
            completeness).
        per_module (dict): for each tracked module name, the activation + synthesis bytes of
            the storages it saved first.
        synthesis_per_module (dict): the synthesis part of ``per_module``.
        num_tensors (int): number of unique non-parameter storages.
    """
    activation: int = 0
    synthesis: int = 0
    parameter: int = 0
    per_module: Dict[str, int] = field(default_factory=dict)
    synthesis_per_module: Dict[str, int] = field(default_factory=dict)
    num_tensors: int = 0

    @property
    def total(self) -> int:
        """Activation + synthesis bytes: everything the step adds to memory for backward."""
        return self.activation + self.synthesis


class _ProvenanceMode(TorchDispatchMode):
    """Tracks which storages are computed from parameters only.

    A storage is *clean* if it belongs to a parameter or buffer, or if an operator produced it
    from clean tensors alone. An operator without tensor inputs (``torch.rand`` of a
    stochastic-depth mask, ...) produces batch data, not clean data.
    """

    def __init__(self, clean_keys: Set[int]) -> None:
        super().__init__()
        self.clean = clean_keys
        self._keep: List[Tensor] = []  # keeps clean outputs alive so their keys stay unique

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, Tensor)]
        if inputs and all(storage_key(a) in self.clean for a in inputs):
            for o in tree_flatten(out)[0]:
                if isinstance(o, Tensor) and o.layout == torch.strided:
                    self.clean.add(storage_key(o))
                    self._keep.append(o)
        return out


class SavedTensorCounter:
    """Context manager: counts the bytes that autograd saves for backward inside it.

    Args:
        model (nn.Module, optional): the model whose parameters and buffers are not
            activation memory (saved views of them are counted under ``parameter``).
        track (Mapping[str, nn.Module], optional): modules to attribute saved storages to;
            a storage goes to the innermost tracked module running when it is first saved
            (key ``''`` when none runs).
        provenance (bool): trace which saved storages come from parameters only (the
            ``synthesis`` class); costs a Python call per operator. Default True.

    Example::

        with SavedTensorCounter(model) as counter:
            loss = model(x).sum()
        print(counter.result.activation)
    """

    def __init__(self, model: Optional[nn.Module] = None,
                 track: Optional[Mapping[str, nn.Module]] = None,
                 provenance: bool = True) -> None:
        self.model = model
        self.track = dict(track or {})
        self.provenance = provenance
        self.result = SavedBytes()
        self._stack: List[str] = []
        self._seen: Dict[int, tuple] = {}
        self._keep: List[Tensor] = []
        self._param_keys: Set[int] = set()
        self._exit: Optional[ExitStack] = None
        self._mode: Optional[_ProvenanceMode] = None

    def _pack(self, t: Tensor) -> Tensor:
        if t.layout != torch.strided:
            return t
        key = storage_key(t)
        if key not in self._seen:
            owner = self._stack[-1] if self._stack else ''
            if key in self._param_keys:
                kind = 'parameter'
            elif self._mode is not None and key in self._mode.clean:
                kind = 'synthesis'
            else:
                kind = 'activation'
            self._seen[key] = (t.untyped_storage().nbytes(), kind, owner)
            self._keep.append(t)
        return t

    def __enter__(self) -> 'SavedTensorCounter':
        self._seen.clear()
        self._keep.clear()
        self._param_keys = set()
        if self.model is not None:
            for t in list(self.model.parameters()) + list(self.model.buffers()):
                self._param_keys.add(storage_key(t))
        stack = ExitStack()
        for name, module in self.track.items():
            stack.callback(module.register_forward_pre_hook(
                lambda m, a, name=name: self._stack.append(name)).remove)
            stack.callback(module.register_forward_hook(
                lambda m, a, o: self._stack.pop() and None).remove)
        stack.enter_context(torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t))
        if self.provenance:
            self._mode = _ProvenanceMode(set(self._param_keys))
            stack.enter_context(self._mode)
        self._exit = stack
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()
        res = SavedBytes()
        for nbytes, kind, owner in self._seen.values():
            if kind == 'parameter':
                res.parameter += nbytes
                continue
            res.num_tensors += 1
            if kind == 'synthesis':
                res.synthesis += nbytes
                res.synthesis_per_module[owner] = res.synthesis_per_module.get(owner, 0) + nbytes
            else:
                res.activation += nbytes
            res.per_module[owner] = res.per_module.get(owner, 0) + nbytes
        self.result = res
        self._keep.clear()
        self._mode = None
        self._stack.clear()


def count_saved_bytes(fn: Callable[[], Any], model: Optional[nn.Module] = None,
                      track: Optional[Mapping[str, nn.Module]] = None,
                      provenance: bool = True) -> SavedBytes:
    """Runs ``fn()`` (a forward pass with grad enabled) and returns what it saves for
    backward; see :class:`SavedTensorCounter`. The graph is dropped afterwards."""
    with torch.enable_grad(), SavedTensorCounter(model, track, provenance) as counter:
        out = fn()
    del out
    return counter.result


# --------------------------------------------------------------------------------------------
# FLOPs (eq. 53-57)
# --------------------------------------------------------------------------------------------
_SDPA_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_SDPA_CPU_BACKWARD = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward


def _sdpa_cpu_flop(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _sdpa_cpu_backward_flop(grad_out, query, key, value, *args, out_shape=None,
                            **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


def flop_counter() -> FlopCounterMode:
    """A ``FlopCounterMode`` that also counts the fused CPU attention kernel (the CUDA fused
    kernels are counted by torch already), so that attention FLOPs do not depend on the
    device."""
    return FlopCounterMode(display=False, custom_mapping={
        _SDPA_CPU: _sdpa_cpu_flop, _SDPA_CPU_BACKWARD: _sdpa_cpu_backward_flop})


class FusedAttentionOnMeta(TorchFunctionMode):
    """Runs ``F.scaled_dot_product_attention`` on meta tensors through the fused
    (flash-style) kernel, as CPUs and GPUs do, instead of the math fallback that meta tensors
    would take: the fused kernel saves the output and log-sum-exp for backward, the math
    path the whole ``T x T`` attention matrix. Keeps meta-device predictions (shapes only)
    faithful to a real device."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.nn.functional.scaled_dot_product_attention and \
                args and isinstance(args[0], Tensor) and args[0].is_meta:
            names = ('query', 'key', 'value', 'attn_mask', 'dropout_p', 'is_causal', 'scale')
            bound = dict(zip(names, args), **kwargs)
            if not bound.get('enable_gqa', False):
                return _SDPA_CPU(bound['query'], bound['key'], bound['value'],
                                 bound.get('dropout_p', 0.), bound.get('is_causal', False),
                                 attn_mask=bound.get('attn_mask'), scale=bound.get('scale'))[0]
        return func(*args, **kwargs)


@dataclass
class FlopCount:
    """FLOPs (2 per multiply-add) of one call.

    Attributes:
        total (int): all counted FLOPs.
        per_module (dict): FLOPs run inside each tracked module (its forward; the backward of
            its operators is not attributed).
    """
    total: int = 0
    per_module: Dict[str, int] = field(default_factory=dict)


def count_flops(fn: Callable[[], Any], track: Optional[Mapping[str, nn.Module]] = None
                ) -> FlopCount:
    """Counts the FLOPs of ``fn()`` with ``FlopCounterMode``.

    Args:
        fn: the work to count (a forward pass, or a whole training step).
        track (Mapping[str, nn.Module], optional): modules whose forward FLOPs are reported
            in ``per_module`` (nested tracked modules each get their full share).
    """
    res = FlopCount()
    with flop_counter() as counter, ExitStack() as stack:
        for name, module in (track or {}).items():
            start: List[int] = []
            stack.callback(module.register_forward_pre_hook(
                lambda m, a, start=start: start.append(counter.get_total_flops())).remove)
            stack.callback(module.register_forward_hook(
                lambda m, a, o, name=name, start=start: res.per_module.__setitem__(
                    name, res.per_module.get(name, 0)
                    + counter.get_total_flops() - start.pop())).remove)
        out = fn()
        del out
    res.total = counter.get_total_flops()
    return res


class _ElementwiseCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tags = getattr(func, 'tags', ())
        if torch.Tag.pointwise in tags:
            self.flops += sum(o.numel() for o in tree_flatten(out)[0] if isinstance(o, Tensor))
        elif torch.Tag.reduction in tags:
            self.flops += sum(a.numel() for a in tree_flatten((args, kwargs))[0]
                              if isinstance(a, Tensor))
        return out


def count_elementwise_flops(fn: Callable[[], Any]) -> int:
    """Element-wise work of ``fn()``: one FLOP per output element of every point-wise operator
    and per input element of every reduction (what ``FlopCounterMode`` leaves out). Used for
    the weight-synthesis term ``F_synth`` of eq. 53 (normalisation of eq. 9 and the
    combination of eq. 10), which has no convolution or matrix product."""
    with _ElementwiseCounter() as counter:
        out = fn()
        del out
    return counter.flops


# --------------------------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Wall-clock seconds of repeated calls: ``median`` and the quartiles ``q1``, ``q3``."""
    median: float
    q1: float
    q3: float
    samples: List[float]

    @classmethod
    def of(cls, samples: Sequence[float]) -> 'Timing':
        s = sorted(samples)
        if len(s) >= 4:
            q1, _, q3 = statistics.quantiles(s, n=4)
        else:
            q1, q3 = s[0], s[-1]
        return cls(statistics.median(s), q1, q3, list(samples))


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def resolve_clock(clock: str, device) -> str:
    """``'auto'`` -> ``'cpu'`` (process CPU time) on a CPU device, ``'wall'`` otherwise.

    Process CPU time counts the work of all the process's threads and not the time it waits
    for a core, so on a shared machine it is far less noisy than wall time; for a GPU only
    wall time (with synchronisation) measures the device.
    """
    if clock == 'auto':
        return 'cpu' if torch.device(device).type == 'cpu' else 'wall'
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of ('auto', 'wall', 'cpu'), got {clock!r}")
    if clock == 'cpu' and torch.device(device).type != 'cpu':
        raise ValueError(f"clock='cpu' cannot time work on {device}: use 'wall'")
    return clock


def interleaved_times(fns: Mapping[str, Callable[[], Any]], reps: int = 10, warmup: int = 2,
                      device='cpu', clock: str = 'wall') -> Dict[str, Timing]:
    """Times several callables in one run, interleaved.

    Each repetition calls every function once; odd repetitions run them in reverse order
    (ABBA), so a slow phase of a shared machine lands on all of them alike. The first
    ``warmup`` repetitions are not recorded.

    Args:
        fns: name -> zero-argument callable.
        reps (int): recorded repetitions (>= 1).
        warmup (int): unrecorded repetitions first (>= 0).
        device: device whose queue is synchronized around every call.
        clock (str): ``'wall'`` (``time.perf_counter``), ``'cpu'`` (``time.process_time``)
            or ``'auto'`` (:func:`resolve_clock`).

    Returns:
        dict: name -> :class:`Timing` (seconds).
    """
    if not isinstance(reps, int) or reps < 1:
        raise ValueError(f'reps must be an int >= 1, got {reps!r}')
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f'warmup must be an int >= 0, got {warmup!r}')
    now = CLOCKS[resolve_clock(clock, device)]
    names = list(fns)
    samples: Dict[str, List[float]] = {n: [] for n in names}
    for i in range(warmup + reps):
        for name in (names if i % 2 == 0 else names[::-1]):
            synchronize(device)
            t0 = now()
            fns[name]()
            synchronize(device)
            if i >= warmup:
                samples[name].append(now() - t0)
    return {n: Timing.of(s) for n, s in samples.items()}


def paired_ratio(a: Timing, b: Timing) -> float:
    """Median over repetitions of ``a_i / b_i``: the ratio of two interleaved timings, each
    sample compared with its neighbour in time (robust to a machine that slows down and
    speeds up between repetitions)."""
    return statistics.median(paired_ratios(a, b))


def paired_ratios(a: Timing, b: Timing) -> List[float]:
    """``a_i / b_i`` for every repetition of one interleaved run."""
    if len(a.samples) != len(b.samples):
        raise ValueError('paired ratios need timings of the same interleaved run')
    return [x / y for x, y in zip(a.samples, b.samples)]


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> Tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median of ``values``."""
    import random
    if not values:
        raise ValueError('bootstrap_ci needs at least one value')
    rng = random.Random(seed)
    n = len(values)
    meds = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    lo = meds[int((1 - level) / 2 * (resamples - 1))]
    hi = meds[int((1 + level) / 2 * (resamples - 1))]
    return lo, hi


def cuda_peak_memory(fn: Callable[[], Any], device='cuda') -> int:
    """Peak bytes allocated on a CUDA device while ``fn()`` runs, above what was allocated
    before it (``torch.cuda.max_memory_allocated``)."""
    device = torch.device(device)
    if device.type != 'cuda':
        raise ValueError(f'cuda_peak_memory needs a CUDA device, got {device}')
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    out = fn()
    del out
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def max_abs_diff(a: Any, b: Any) -> float:
    """Largest absolute difference between the tensors of two equally nested outputs."""
    fa, fb = tree_flatten(a)[0], tree_flatten(b)[0]
    ta = [t for t in fa if isinstance(t, Tensor)]
    tb = [t for t in fb if isinstance(t, Tensor)]
    if len(ta) != len(tb) or not ta:
        raise ValueError(f'outputs differ in structure: {len(ta)} vs {len(tb)} tensors')
    return max(float((x.detach().float() - y.detach().float()).abs().max()) if x.numel() else 0.
               for x, y in zip(ta, tb))


def _flatten_tensors(out: Any) -> Iterable[Tensor]:
    return (t for t in tree_flatten(out)[0] if isinstance(t, Tensor))


# ============================================================================================
# The benchmark runner: build an E2E / RepL pair from configs or presets and measure both
# ============================================================================================

#: RepL-only backbone arguments, dropped when an E2E twin is derived from a RepL config.
REPL_ARGS = ('interval', 'replace_blocks', 'neighbours', 'coefficients', 'stop_grad',
             'remove_only', 'deploy', 'synthesis_branches', 'head_wise')

_PKG_CONFIG = {'mmdet': 'mmdet', 'mmseg': 'mmseg', 'mmpretrain': 'mmpretrain'}


def _package_config(scope: str, rel: str) -> str:
    """Path of a config shipped inside an installed toolbox (``.mim/configs/<rel>``)."""
    import importlib.util
    spec = importlib.util.find_spec(_PKG_CONFIG[scope])
    path = os.path.join(list(spec.submodule_search_locations)[0], '.mim', 'configs', rel)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{scope} does not ship {rel} ({path})')
    return path


def _cls_model(backbone: dict, head: dict, neck: Optional[dict] = None) -> dict:
    return dict(type='ImageClassifier', backbone=backbone, neck=neck, head=head)


def _resnet_head(channels: int, classes: int = 1000) -> dict:
    return dict(type='LinearClsHead', num_classes=classes, in_channels=channels,
                loss=dict(type='CrossEntropyLoss', loss_weight=1.0))


#: Built-in presets: the paper's RepL models (interval K=4), usable where no config file is
#: at hand. ``input_size`` is (H, W); ``optimizer`` the paper's (§IV-A, §IV-D1a, §IV-D1g).
PRESETS: Dict[str, dict] = {
    'resnet32-cifar': dict(scope='mmpretrain', input_size=(32, 32), optimizer='SGD',
                           model=_cls_model(dict(type='CifarResNetRepL', depth=32, interval=4),
                                            _resnet_head(64, 10),
                                            dict(type='GlobalAveragePooling'))),
    'resnet110-cifar': dict(scope='mmpretrain', input_size=(32, 32), optimizer='SGD',
                            model=_cls_model(dict(type='CifarResNetRepL', depth=110,
                                                  interval=4),
                                             _resnet_head(64, 10),
                                             dict(type='GlobalAveragePooling'))),
    **{f'resnet{d}': dict(scope='mmpretrain', input_size=(224, 224), optimizer='SGD',
                          model=_cls_model(dict(type='ResNetRepL', depth=d, interval=4),
                                           _resnet_head(512 if d < 50 else 2048),
                                           dict(type='GlobalAveragePooling')))
       for d in (18, 34, 50, 101, 152)},
    **{f'vit-{n}': dict(scope='mmpretrain', input_size=(224, 224), optimizer='AdamW',
                        model=_cls_model(dict(type='VisionTransformerRepL', arch=arch,
                                              img_size=224, patch_size=16, interval=4),
                                         dict(type='VisionTransformerClsHead',
                                              num_classes=1000, in_channels=c,
                                              loss=dict(type='CrossEntropyLoss'))))
       for n, arch, c in (('tiny', 'deit-tiny', 192), ('small', 'deit-small', 384),
                          ('base', 'base', 768))},
    **{f'retinanet-r{d}': dict(scope='mmdet', input_size=(800, 1344), optimizer='Adam',
                               base='_base_/models/retinanet_r50_fpn.py',
                               backbone=dict(type='ResNetRepL', depth=d, interval=4,
                                             init_cfg=None))
       for d in (50, 101)},
    'deeplabv3-r50': dict(scope='mmseg', input_size=(512, 1024), optimizer='SGD',
                          base='_base_/models/deeplabv3_r50-d8.py',
                          backbone=dict(type='ResNetV1cRepL', interval=4),
                          norm_cfg=dict(type='BN', requires_grad=True)),
}


@dataclass
class ModelSpec:
    """What to build: ``scope`` (toolbox), the model config, the training input size and the
    optimizer type; ``source`` names the config file or preset."""
    source: str
    scope: str
    model: dict
    input_size: Tuple[int, int]
    optimizer: str = 'SGD'



def _find_in_pipeline(cfg) -> Optional[Tuple[int, int]]:
    """Training crop size from a config's train pipeline (RandomResizedCrop scale,
    RandomCrop crop_size, mmdet Resize scale)."""
    def pipelines(node):
        if isinstance(node, dict):
            if 'pipeline' in node and isinstance(node['pipeline'], (list, tuple)):
                yield node['pipeline']
            for v in node.values():
                yield from pipelines(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                yield from pipelines(v)

    for pipe in pipelines(cfg.get('train_dataloader', {})):
        for t in pipe:
            if not isinstance(t, dict):
                continue
            typ = str(t.get('type', ''))
            if typ.endswith('RandomResizedCrop') and 'scale' in t:
                s = t['scale']
                return (s, s) if isinstance(s, int) else (s[1], s[0])
            if typ.endswith('RandomCrop') and 'crop_size' in t:
                s = t['crop_size']
                return (s, s) if isinstance(s, int) else tuple(s)
            if typ.endswith('Resize') and 'scale' in t and cfg.get('default_scope') == 'mmdet':
                w, h = t['scale']  # mmdet scales are (w, h); pad to a multiple of 32
                return (-(-min(w, h) // 32) * 32, -(-max(w, h) // 32) * 32)
    return None


def _guess_scope(model: dict) -> str:
    typ = str(model.get('type', ''))
    if typ in ('EncoderDecoder', 'CascadeEncoderDecoder'):
        return 'mmseg'
    if typ in ('ImageClassifier',) or 'VisionTransformer' in str(
            model.get('backbone', {}).get('type', typ)):
        return 'mmpretrain'
    return 'mmdet'


def load_spec(spec: str, cfg_options: Optional[dict] = None,
              input_size: Optional[Sequence[int]] = None) -> ModelSpec:
    """Resolves a config path or a preset name (see :data:`PRESETS`) into a :class:`ModelSpec`.

    Args:
        spec (str): a config file (mm style, ``custom_imports`` honoured) or a preset name.
        cfg_options (dict, optional): ``key.sub=value`` overrides merged into the config
            (like ``--cfg-options`` of the mm tools), e.g. ``{'model.backbone.interval': 3}``.
        input_size (Sequence[int], optional): ``(H, W)`` or ``(S,)``, overriding the size
            inferred from the config's train pipeline.
    """
    from mmengine.config import Config
    if os.path.isfile(spec):
        cfg = Config.fromfile(spec)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model)
        scope = cfg.get('default_scope') or _guess_scope(model)
        size = _find_in_pipeline(cfg)
        opt = cfg.get('optim_wrapper', {}).get('optimizer', {}).get('type', 'SGD')
        result = ModelSpec(spec, scope, model, size, str(opt))
    elif spec in PRESETS:
        p = copy.deepcopy(PRESETS[spec])
        if 'base' in p:
            cfg = Config.fromfile(_package_config(p['scope'], p['base']))
            model = cfg.model.to_dict()
            model['backbone'].update(p['backbone'])
            if 'norm_cfg' in p:
                _replace_norm(model, p['norm_cfg'])
            model.pop('pretrained', None)
        else:
            model = p['model']
        cfg = Config(dict(model=model))
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        result = ModelSpec(spec, p['scope'], cfg.model.to_dict(), p['input_size'],
                           p['optimizer'])
    else:
        raise ValueError(f'{spec!r} is neither a config file nor a preset; presets: '
                         f'{sorted(PRESETS)}')
    if input_size is not None:
        size = tuple(input_size)
        result.input_size = (size[0], size[0]) if len(size) == 1 else (size[0], size[1])
    if result.input_size is None:
        raise ValueError(f'cannot infer the training input size of {spec}: pass input_size')
    return result


def _replace_norm(node, norm_cfg: dict) -> None:
    """SyncBN -> the given norm in every ``norm_cfg`` of a model dict (single-process runs)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == 'norm_cfg' and isinstance(v, dict):
                node[k] = dict(norm_cfg)
            else:
                _replace_norm(v, norm_cfg)
    elif isinstance(node, list):
        for v in node:
            _replace_norm(v, norm_cfg)


def e2e_twin(spec: ModelSpec) -> ModelSpec:
    """The E2E twin of a RepL spec: the stock backbone class (``ResNetRepL`` -> ``ResNet``,
    ``VisionTransformerRepL`` -> ``VisionTransformer``, ...) without the RepL arguments."""
    model = copy.deepcopy(spec.model)
    bb = model['backbone'] if 'backbone' in model else model
    typ = str(bb['type'])
    if not typ.endswith('RepL'):
        raise ValueError(f'{spec.source}: backbone type {typ!r} is not a RepL backbone')
    bb['type'] = typ[:-len('RepL')]
    for k in REPL_ARGS:
        bb.pop(k, None)
    return ModelSpec(spec.source + ' with its stock backbone', spec.scope, model, spec.input_size,
                     spec.optimizer)


def build_model(spec: ModelSpec, overrides: Optional[dict] = None) -> nn.Module:
    """Builds the whole model of ``spec`` in its toolbox (SyncBN reverted to BN).

    Args:
        overrides (dict, optional): extra backbone arguments (``with_cp``,
            ``drop_path_rate``).
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    import repl_mm  # noqa: F401  registers the RepL backbones
    registry = {'mmpretrain': 'mmpretrain.registry', 'mmdet': 'mmdet.registry',
                'mmseg': 'mmseg.registry'}
    if spec.scope not in registry:
        raise ValueError(f'scope must be one of {tuple(registry)}, got {spec.scope!r}')
    import importlib
    models = importlib.import_module(registry[spec.scope]).MODELS
    init_default_scope(spec.scope)
    cfg = copy.deepcopy(spec.model)
    if overrides:
        cfg['backbone'].update(overrides)
    cfg.pop('data_preprocessor', None)  # inputs are made normalised already
    return revert_sync_batchnorm(models.build(cfg))


def make_optimizer(kind: str, params) -> torch.optim.Optimizer:
    """The optimizer of a training step: ``SGD`` (momentum 0.9, wd 1e-4), ``AdamW`` (wd 0.05)
    or ``Adam``, with a small learning rate (random data must not diverge)."""
    params = list(params)
    kind = kind.split('.')[-1]
    if kind == 'SGD':
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4)
    if kind == 'AdamW':
        return torch.optim.AdamW(params, lr=1e-5, weight_decay=0.05)
    if kind == 'Adam':
        return torch.optim.Adam(params, lr=1e-5)
    raise ValueError(f'optimizer must be one of (SGD, AdamW, Adam), got {kind!r}')


def synthetic_batch(model: nn.Module, scope: str, batch_size: int, input_size, device,
                    dtype=torch.float32, seed: int = 0) -> Tuple[Tensor, list]:
    """Random normalised images and matching ground truth for ``model.loss``: class labels
    (mmpretrain), boxes + labels + image metas (mmdet), label maps (mmseg)."""
    g = torch.Generator().manual_seed(seed)
    h, w = input_size
    x = torch.randn(batch_size, 3, h, w, generator=g).to(device=device, dtype=dtype)
    samples = []
    if scope == 'mmpretrain':
        from mmpretrain.structures import DataSample
        classes = getattr(getattr(model, 'head', None), 'num_classes', 10)
        for _ in range(batch_size):
            samples.append(DataSample().set_gt_label(
                int(torch.randint(classes, (1,), generator=g))))
    elif scope == 'mmdet':
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
        classes = model.bbox_head.num_classes
        for _ in range(batch_size):
            s = DetDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w),
                                            batch_input_shape=(h, w), ori_shape=(h, w),
                                            scale_factor=(1., 1.)))
            xy = torch.rand(4, 2, generator=g) * torch.tensor([w / 2, h / 2])
            wh = 32 + torch.rand(4, 2, generator=g) * torch.tensor([w / 2 - 32, h / 2 - 32])
            s.gt_instances = InstanceData(
                bboxes=torch.cat([xy, xy + wh], 1).to(device),
                labels=torch.randint(classes, (4,), generator=g).to(device))
            samples.append(s)
    elif scope == 'mmseg':
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        classes = model.decode_head.num_classes
        for _ in range(batch_size):
            s = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w),
                                            ori_shape=(h, w)))
            s.gt_sem_seg = PixelData(
                data=torch.randint(classes, (1, h, w), generator=g).to(device))
            samples.append(s)
    else:
        raise ValueError(f'scope must be mmpretrain, mmdet or mmseg, got {scope!r}')
    return x, samples


def backbone_loss(out) -> Tensor:
    """A loss over every backbone output (the mean of each), to drive backward through the
    backbone alone."""
    return sum(t.float().mean() for t in _flatten_tensors(out))


def machine_info(device='cpu') -> Dict[str, Any]:
    """CPU model (``/proc/cpuinfo``), thread count, torch version and the accelerator."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(cpu=cpu, cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
                torch=torch.__version__, python=platform.python_version(),
                device=str(device))
    if torch.device(device).type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
    return info


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


def _loss_fn(model: nn.Module, scope: str, x: Tensor, samples: list) -> Callable[[], Tensor]:
    if scope == 'backbone':
        return lambda: backbone_loss(model.backbone(x))
    return lambda: model.parse_losses(model.loss(x, samples))[0]


def _infer_fn(model: nn.Module, scope: str, x: Tensor) -> Callable[[], Any]:
    if scope == 'backbone':
        return lambda: model.backbone(x)
    return lambda: model(x, None, mode='tensor')


def measure_step(model: nn.Module, loss_fn: Callable[[], Tensor]) -> Dict[str, Any]:
    """One instrumented training step: bytes saved by the forward (activation / synthesis,
    :class:`SavedTensorCounter`), forward FLOPs and forward + backward FLOPs."""
    with flop_counter() as fc:
        with torch.enable_grad(), SavedTensorCounter(model) as counter:
            loss = loss_fn()
        fwd = fc.get_total_flops()
        loss.backward()
    model.zero_grad(set_to_none=True)
    saved = counter.result
    return dict(activation=saved.activation, synthesis=saved.synthesis, flops=fwd,
                train_flops=fc.get_total_flops())


def _variants(spec: ModelSpec, opts: BenchmarkOptions) -> Dict[str, dict]:
    out = {'': {}}
    if opts.compat:
        out['+cp'] = {'with_cp': True}
        out['+sd'] = {'drop_path_rate': opts.drop_path_rate}
    return out


def _ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def run_benchmark(repl: ModelSpec, e2e: Optional[ModelSpec] = None,
                  opts: Optional[BenchmarkOptions] = None, log=print) -> Dict[str, Any]:
    """Measures a RepL model against its E2E twin, in one run, and predicts the same figures
    with the cost model of eq. 42-58 (:mod:`repl_mm.cost`).

    Per scope (backbone / whole model) and variant (plain, ``+cp``, ``+sd``): parameters
    (all, trainable), forward and training FLOPs, activation and synthesis bytes saved by the
    forward, CUDA peak memory of a step, interleaved median step time; the cost-model
    predictions of the same figures; the deploy inference latency and equivalence.

    Returns:
        dict: JSON-serialisable results (see ``tools/benchmark.py`` for the printed form).
    """
    from . import cost
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
    opt_kind = repl.optimizer
    models: Dict[str, nn.Module] = {}
    for suffix, overrides in _variants(repl, opts).items():
        try:
            pair = {f'e2e{suffix}': build_model(e2e, overrides),
                    f'repl{suffix}': build_model(repl, overrides)}
        except TypeError as err:  # e.g. a ViT has no with_cp
            if not suffix:
                raise
            res['notes'].append(f'variant {suffix} skipped: {err}')
            continue
        models.update(pair)
    for m in models.values():
        m.to(device).train()
    rb = models['repl'].backbone
    if not hasattr(rb, 'removal_plan'):
        raise ValueError(f'{repl.source}: backbone {type(rb).__name__} has no removal_plan '
                         '(is it a RepL backbone?)')
    stages = cost.backbone_stages(models['e2e'].backbone)
    res['plan'] = rb.removal_plan
    res['interval'] = getattr(rb, 'interval', None)
    res['replace_blocks'] = getattr(rb, 'replace_blocks', None)
    res['num_blocks'] = [len(s) for s in stages]
    res['num_removed'] = sum(len(p) for p in rb.removal_plan)
    x, samples = synthetic_batch(models['e2e'], repl.scope, opts.batch_size, repl.input_size,
                                 device, seed=opts.seed)
    log(f'benchmark: {repl.source} vs {e2e.source}, plan {rb.removal_plan} '
        f'({res["num_removed"]} of {sum(res["num_blocks"])} blocks), input '
        f'{opts.batch_size}x3x{repl.input_size[0]}x{repl.input_size[1]} on {device}')

    # --- cost model: local measurements of every removed site (meta device: shapes only)
    block_inputs = cost.capture_block_inputs(
        models['e2e'].backbone, lambda: _loss_fn(models['e2e'], 'backbone', x, samples)())
    models['e2e'].zero_grad(set_to_none=True)
    sites = {}
    for name in (models if opts.training else ()):
        if name.startswith('repl'):
            twin = 'e2e' + name[len('repl'):]
            sites[name] = cost.site_costs(models[twin].backbone, models[name].backbone,
                                          block_inputs, device='meta')
    site_fns = {}
    if opts.train_time and opts.training:
        for name in sites:
            twin = 'e2e' + name[len('repl'):]
            for k, f in cost.site_step_fns(sites[name], models[twin].backbone,
                                           models[name].backbone,
                                           lambda p: make_optimizer(opt_kind, p),
                                           device).items():
                site_fns[f'{name}/{k}'] = f

    for scope in (opts.scopes if opts.training else ()):
        log(f'[{scope}] counting parameters, FLOPs and saved bytes')
        sc: Dict[str, Any] = dict(variants={}, predictions={})
        steps = {}
        for name, model in models.items():
            module = model.backbone if scope == 'backbone' else model
            loss_fn = _loss_fn(model, scope, x, samples)
            v = dict(params=num_params(module), trainable_params=num_params(module, True))
            v.update(measure_step(model, loss_fn))
            optimizer = make_optimizer(opt_kind, [p for p in module.parameters()
                                                  if p.requires_grad])

            def step(model=model, loss_fn=loss_fn, optimizer=optimizer):
                optimizer.zero_grad(set_to_none=True)
                loss_fn().backward()
                optimizer.step()
            steps[name] = step
            if device.type == 'cuda':
                step()
                v['cuda_peak_bytes'] = cuda_peak_memory(step, device)
            sc['variants'][name] = v
        if opts.train_time:
            log(f'[{scope}] timing {len(steps)} training steps and {len(site_fns)} site steps '
                f'interleaved, {opts.reps} reps + {opts.warmup} warm-up')
            times = interleaved_times(dict(steps, **site_fns), opts.reps, opts.warmup, device,
                                      opts.clock)
            for name in sites:
                cost.assign_site_times(sites[name], {k[len(name) + 1:]: t for k, t in
                                                     times.items()
                                                     if k.startswith(name + '/')})
            for name, t in times.items():
                if name not in steps:
                    continue
                sc['variants'][name]['step_time'] = t.median
                sc['variants'][name]['step_time_iqr'] = [t.q1, t.q3]
                twin = 'e2e' + name[len('repl'):] if name.startswith('repl') else name
                sc['variants'][name]['step_time_ratio'] = paired_ratio(t, times[twin])
                sc['variants'][name]['step_time_ratio_ci'] = bootstrap_ci(
                    paired_ratios(t, times[twin]))
                sc['variants'][name]['step_time_vs_e2e'] = paired_ratio(t, times['e2e'])
        for name in models:
            if not name.startswith('repl'):
                continue
            twin = 'e2e' + name[len('repl'):]
            ve, vr = sc['variants'][twin], sc['variants'][name]
            time_ratio = None
            if opts.train_time:
                time_ratio = cost.paired_time_ratio(
                    sites[name], times[twin].samples,
                    {k[len(name) + 1:]: t.samples for k, t in times.items()
                     if k.startswith(name + '/')})
            cm = cost.CostModel(sites[name], res['plan'], ve['params'], ve['trainable_params'],
                                ve['flops'], ve['activation'], train_flops=ve['train_flops'],
                                time=ve.get('step_time'), interval=res['interval'],
                                time_ratio=time_ratio, num_blocks=sum(res['num_blocks']))
            pred = cm.as_dict()
            measured = {k: _ratio(vr.get(k), ve.get(k)) for k in (
                'params', 'trainable_params', 'flops', 'train_flops', 'activation',
                'cuda_peak_bytes')}
            measured['step_time'] = vr.get('step_time_ratio')
            pred['measured_ratios'] = measured
            pred['synthesis_bytes'] = vr['synthesis']
            sc['predictions'][name] = pred
            _checks(res['checks'], scope, name, cm, ve, vr)
        res['scopes'][scope] = sc

    if opts.inference:
        res['inference'] = _inference(models, opts, repl, x, samples, device, log)
        for scope, inf in res['inference'].items():
            for b, row in inf.items():
                res['checks'].append(dict(
                    name=f'{scope} deploy == dynamic RepL (batch {b})', value=row['max_rel_diff'],
                    target=1e-5, relation='max |diff| / max |output| <=',
                    ok=row['max_rel_diff'] <= 1e-5))
                if 'e2e' in row['latency']:
                    fr = row['flop_ratio']
                    res['checks'].append(_noisy_check(
                        f'{scope} deploy latency / E2E (batch {b})', row['latency_ratio'],
                        row['latency_ratio_ci'], fr, lambda v, fr=fr: v <= fr,
                        '<= FLOP ratio'))
    return res


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


def _inference(models: Dict[str, nn.Module], opts: BenchmarkOptions, spec: ModelSpec,
               x: Tensor, samples: list, device, log) -> Dict[str, Any]:
    """Tables XI-XII: E2E, dynamic RepL and deploy RepL in eval mode, interleaved."""
    e2e, dyn, dep = (copy.deepcopy(models[k]) for k in ('e2e', 'repl', 'repl'))
    for m in (e2e, dyn, dep):
        m.eval()  # mm backbones' train() returns None: no chaining
    dep.backbone.switch_to_deploy()
    out: Dict[str, Any] = {}
    for scope in opts.scopes:
        out[scope] = {}
        for b in (opts.infer_batch_sizes or [opts.batch_size]):
            xb = synthetic_batch(models['e2e'], spec.scope, b, spec.input_size, device,
                                 seed=opts.seed + 1)[0]
            if opts.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                ref = _infer_fn(dyn, scope, xb)()
                got = _infer_fn(dep, scope, xb)()
                diff = max_abs_diff(ref, got)
                scale = max(float(t.abs().max()) for t in _flatten_tensors(ref))
                flops = {k: count_flops(_infer_fn(m, scope, xb)).total
                         for k, m in (('e2e', e2e), ('dynamic', dyn), ('deploy', dep))}
            row = dict(max_abs_diff=diff, max_rel_diff=diff / max(scale, 1e-12), flops=flops,
                       flop_ratio=flops['deploy'] / flops['e2e'], latency={})
            if opts.train_time:
                fns = {}
                for k, m in (('e2e', e2e), ('dynamic', dyn), ('deploy', dep)):
                    mm = _prepare_inference(m, opts)
                    f = _infer_fn(mm, scope, xb)

                    def run(f=f):
                        with torch.inference_mode():
                            return f()
                    fns[k] = run
                log(f'[{scope}] timing inference, batch {b}')
                times = interleaved_times(fns, opts.reps,
                                          max(opts.warmup, 2 if opts.compile else 1), device,
                                          opts.clock)
                row['latency'] = {k: t.median for k, t in times.items()}
                row['latency_ratio'] = paired_ratio(times['deploy'], times['e2e'])
                row['latency_ratio_ci'] = bootstrap_ci(paired_ratios(times['deploy'],
                                                                     times['e2e']))
                row['deploy_speedup_vs_e2e'] = 1 / row['latency_ratio']
                row['deploy_speedup_vs_dynamic'] = 1 / paired_ratio(times['deploy'],
                                                                    times['dynamic'])
            out[scope][b] = row
    return out


# --------------------------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------------------------
def _si(v, unit='') -> str:
    if v is None:
        return 'n/a'
    for div, p in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(v) >= div:
            return f'{v / div:.3f}{p}{unit}'
    return f'{v:g}{unit}'


def _bytes(v) -> str:
    return 'n/a' if v is None else f'{v / 2 ** 20:.2f}MiB'


def _ms(v) -> str:
    return 'n/a' if v is None else f'{v * 1e3:.2f}ms'


def _r(v) -> str:
    return 'n/a' if v is None else f'{v:.4f}'


def format_report(res: Dict[str, Any]) -> str:
    """The side-by-side text of a :func:`run_benchmark` result."""
    m = res['machine']
    lines = [f"RepL benchmark: {res['repl']}  vs  {res['e2e']}",
             f"machine: {m['cpu']} ({m['cpu_count']} CPUs, {m['torch_threads']} torch threads)"
             f"{', ' + m['gpu'] if 'gpu' in m else ''}; torch {m['torch']}; device {m['device']}; "
             f"clock: {res.get('clock', 'wall')} time",
             f"input {res['options']['batch_size']}x3x{res['input_size'][0]}x"
             f"{res['input_size'][1]}; plan (0-based removed blocks per stage) {res['plan']} = "
             f"{res['num_removed']} of {sum(res['num_blocks'])} blocks "
             f"(interval {res['interval']}, replace_blocks {res['replace_blocks']})"]
    lines += [f'note: {n}' for n in res.get('notes', [])]
    for scope, sc in res['scopes'].items():
        ve, vr = sc['variants']['e2e'], sc['variants']['repl']
        p = sc['predictions']['repl']
        rt = p['ratios']
        hom = p['homogeneous']
        head = (f"{'[' + scope + ']':<26}{'E2E':>12}{'RepL':>12}{'RepL/E2E':>10}"
                f"{'predicted':>11}  prediction")
        lines += ['', head, '-' * len(head)]

        def row(label, e, r_, fmt, pred=None, how=''):
            ratio = _ratio(r_, e)
            lines.append(f'{label:<26}{fmt(e):>12}{fmt(r_):>12}{_r(ratio):>10}'
                         f'{_r(pred):>11}  {how}')
        row('params', ve['params'], vr['params'], _si, rt['params'],
            f"eq. 42 exact (eq. 52 homogeneous, R/N=1/K: {_r(hom['params_eq52'])}, "
            f"this R/N: {_r(hom['params_eq52_plan'])})")
        row('trainable params', ve['trainable_params'], vr['trainable_params'], _si,
            rt['trainable_params'], 'eq. 42')
        row('forward FLOPs', ve['flops'], vr['flops'], _si, rt['flops'],
            f"eq. 53 (eq. 55 homogeneous, R/N=1/K: {_r(hom['flops_eq55'])}, "
            f"this R/N: {_r(hom['flops_eq55_plan'])})")
        lines.append(f"{'  F_synth (element-wise)':<26}{'':>12}{_si(p['synthesis_flops']):>12}"
                     f"{'':>10}{'':>11}  {p['synthesis_flops'] / max(vr['flops'], 1):.2e} of "
                     'RepL forward FLOPs, not in the FLOPs above')
        row('train FLOPs (fwd+bwd)', ve['train_flops'], vr['train_flops'], _si,
            rt['train_flops'], 'eq. 53 per site, forward + backward (eq. 76)')
        row('activation memory', ve['activation'], vr['activation'], _bytes, rt['activation'],
            'eq. 58 (S_r - S~_r per site)')
        lines.append(f"{'  M_aux (synthesis)':<26}{_bytes(ve['synthesis']):>12}"
                     f"{_bytes(vr['synthesis']):>12}{'':>10}{_bytes(p['pred_aux']):>11}  "
                     f"{vr['synthesis'] / max(vr['activation'], 1):.2%} of RepL activation "
                     '(parameter-only tensors, batch independent)')
        if 'step_time' in vr:
            ci = vr.get('step_time_ratio_ci')
            lines.append(f"{'training step time':<26}{_ms(ve['step_time']):>12}"
                         f"{_ms(vr['step_time']):>12}{_r(vr['step_time_ratio']):>10}"
                         f"{_r(rt['time']):>11}  "
                         f"local block vs computing-layer steps; eq. 76 (train FLOPs): "
                         f"{_r(rt['train_flops'])}"
                         + (f'; measured 95% CI {ci[0]:.4f}-{ci[1]:.4f}' if ci else ''))
            if p['synthesis_time'] is not None:
                lines.append(f"{'  synthesis time':<26}{'':>12}{_ms(p['synthesis_time']):>12}"
                             f"{'':>10}{'':>11}  {p['synthesis_time'] / vr['step_time']:.2%} "
                             'of the RepL step (forward + backward of eq. 9-10)')
        if 'cuda_peak_bytes' in vr:
            row('CUDA peak step memory', ve['cuda_peak_bytes'], vr['cuda_peak_bytes'], _bytes)
        others = [n for n in sc['variants'] if n not in ('e2e', 'repl')]
        if others:
            lines += ['', f"{'[' + scope + '] Table IX':<26}{'activation':>12}{'vs E2E':>8}"
                      f"{'step':>12}{'vs E2E':>8}  predicted act / time ratio vs its E2E twin"]
            for n in ['e2e', 'repl'] + others:
                v = sc['variants'][n]
                pr = sc['predictions'].get(n, {}).get('ratios', {})
                lines.append(f"{n:<26}{_bytes(v['activation']):>12}"
                             f"{_r(_ratio(v['activation'], ve['activation'])):>8}"
                             f"{_ms(v.get('step_time')):>12}"
                             f"{_r(v.get('step_time_vs_e2e')):>8}  "
                             + (f"{_r(pr.get('activation'))} / {_r(pr.get('time'))}"
                                if pr else ''))
    for scope, inf in res.get('inference', {}).items():
        head = (f"{'[' + scope + '] inference':<26}{'batch':>6}{'E2E':>11}{'dynamic':>11}"
                f"{'deploy':>11}{'dep/E2E':>9}{'FLOPs':>8}{'dyn/dep':>9}{'max|diff|':>11}")
        lines += ['', head, '-' * len(head)]
        for b, row_ in inf.items():
            lat = row_.get('latency', {})
            lines.append(f"{'':<26}{b:>6}{_ms(lat.get('e2e')):>11}{_ms(lat.get('dynamic')):>11}"
                         f"{_ms(lat.get('deploy')):>11}{_r(row_.get('latency_ratio')):>9}"
                         f"{row_['flop_ratio']:>8.4f}"
                         f"{_r(row_.get('deploy_speedup_vs_dynamic')):>9}"
                         f"{row_['max_abs_diff']:>11.2e}")
    lines += ['', 'targets:']
    for c in res['checks']:
        v, t = c['value'], c['target']
        fv = f'{v:.4g}' if isinstance(v, float) else str(v)
        ft = f'{t:.4g}' if isinstance(t, float) else str(t)
        ci = f" [95% CI {c['ci'][0]:.4f}-{c['ci'][1]:.4f}]" if 'ci' in c else ''
        status = c.get('status', 'ok' if c['ok'] else 'MISS')
        lines.append(f"  [{status}] {c['name']}: {fv}{ci} (target: {c.get('relation', '==')} "
                     f'{ft})')
    return '\n'.join(lines)


def save_json(res: Dict[str, Any], path: str) -> None:
    """Writes a result as JSON (dict keys made strings)."""
    with open(path, 'w') as f:
        json.dump(res, f, indent=1, default=str)


# --------------------------------------------------------------------------------------------
# the plan: predictions before any training
# --------------------------------------------------------------------------------------------
def predict_plan(repl: ModelSpec, e2e: Optional[ModelSpec] = None, batch_size: int = 1,
                 scope: str = 'backbone', device='meta') -> Dict[str, Any]:
    """Which blocks ``repl`` removes and what that saves, predicted from the E2E model alone
    (eq. 42, 53, 55, 58): nothing of the RepL model is run except its computing layers
    inside their local triples.

    Args:
        batch_size (int): batch of the activation-memory and FLOP predictions.
        scope (str): ``'backbone'`` or ``'model'`` (the whole model with its loss; needs a
            real device, the meta device cannot run detection losses).
        device: ``'meta'`` (default: shapes only, no computation) or a real device.

    Returns:
        dict: ``cost`` (:meth:`CostModel.as_dict`), ``blocks`` (names per stage), plan info.
    """
    from . import cost
    if scope not in ('backbone', 'model'):
        raise ValueError(f"scope must be 'backbone' or 'model', got {scope!r}")
    device = torch.device(device)
    if scope == 'model' and device.type == 'meta':
        raise ValueError("scope='model' runs the loss, which the meta device cannot: "
                         "pass device='cpu'")
    e2e = e2e or e2e_twin(repl)
    e2e_model, repl_model = build_model(e2e), build_model(repl)
    rb = repl_model.backbone
    if not hasattr(rb, 'removal_plan'):
        raise ValueError(f'{repl.source}: backbone {type(rb).__name__} has no removal_plan '
                         '(is it a RepL backbone?)')
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
    cm = cost.CostModel(sites, rb.removal_plan, params, trainable, step['flops'],
                        step['activation'], train_flops=step['train_flops'],
                        interval=getattr(rb, 'interval', None))
    stages = cost.backbone_stages(e2e_model.backbone)
    cm.num_blocks = sum(len(st) for st in stages)
    kinds = sorted({cost.block_kind(m) for st in stages for _, m in st.values()})
    tokens = None
    if kinds == ['vit']:
        tokens = block_inputs[stages[0][0][0]]
    return dict(repl=repl.source, e2e=e2e.source, scope=scope, batch_size=batch_size,
                input_size=list(repl.input_size), device=str(device),
                interval=getattr(rb, 'interval', None),
                replace_blocks=getattr(rb, 'replace_blocks', None),
                blocks=[[name for name, _ in st.values()] for st in stages], kinds=kinds,
                tokens=None if tokens is None else list(tokens), cost=cm.as_dict())


def format_plan(plan: Dict[str, Any]) -> str:
    """The text of :func:`predict_plan`."""
    from .cost import eta_basic, eta_vit
    c = plan['cost']
    n_blocks = sum(len(b) for b in plan['blocks'])
    removed = sum(len(p) for p in c['plan'])
    lines = [f"RepL plan: {plan['repl']} (E2E twin: {plan['e2e']})",
             f"interval K = {plan['interval']}, replace_blocks = {plan['replace_blocks']}: "
             f"removes {removed} of {n_blocks} blocks ({removed / max(n_blocks, 1):.1%})"]
    for s, (names, rm) in enumerate(zip(plan['blocks'], c['plan'])):
        gone = ', '.join(f'{names[i]} (r={i + 1})' for i in rm) or 'none'
        lines.append(f'  stage {s + 1}: {len(names)} blocks, removed: {gone}')
    lines += ['', f"per removed block ({plan['scope']} input {plan['batch_size']}x3x"
              f"{plan['input_size'][0]}x{plan['input_size'][1]}):",
              f"{'block':<12}{'kind':<11}{'P_r':>10}{'a_r':>8}{'F_r':>11}{'F~_r':>11}"
              f"{'eta_r':>7}{'S_r':>11}{'S~_r':>11}{'S_r-S~_r':>11}{'M_aux':>10}"]
    for st in c['sites']:
        lines.append(f"{st['name']:<12}{st['kind']:<11}{_si(st['params']):>10}"
                     f"{st['layer_params']:>8}{_si(st['flops']):>11}{_si(st['layer_flops']):>11}"
                     f"{st['eta']:>7.3f}{_bytes(st['saved']):>11}{_bytes(st['layer_saved']):>11}"
                     f"{_bytes(st['saved_delta']):>11}{_bytes(st['layer_synthesis']):>10}")
    r = c['ratios']
    hom = c['homogeneous']
    lines += ['', f"{'predicted':<26}{'E2E':>12}{'RepL':>12}{'RepL/E2E':>10}  saving  formula",
              f"{'params':<26}{_si(c['params']):>12}{_si(c['pred_params']):>12}"
              f"{_r(r['params']):>10}  {1 - r['params']:6.1%}  eq. 42 "
              f"(eq. 52 homogeneous: {_r(hom['params_eq52'])} with R/N=1/K, "
              f"{_r(hom['params_eq52_plan'])} with this R/N)",
              f"{'trainable params':<26}{_si(c['trainable_params']):>12}"
              f"{_si(c['pred_trainable_params']):>12}{_r(r['trainable_params']):>10}  "
              f"{1 - r['trainable_params']:6.1%}  eq. 42",
              f"{'forward FLOPs':<26}{_si(c['flops']):>12}{_si(c['pred_flops']):>12}"
              f"{_r(r['flops']):>10}  {1 - r['flops']:6.1%}  eq. 53 + F_synth "
              f"{_si(c['synthesis_flops'])} (eq. 55: {_r(hom['flops_eq55'])} with R/N=1/K, "
              f"{_r(hom['flops_eq55_plan'])} with this R/N)",
              f"{'train FLOPs (fwd+bwd)':<26}{_si(c['train_flops']):>12}"
              f"{_si(c['pred_train_flops']):>12}{_r(r['train_flops']):>10}  "
              f"{1 - r['train_flops']:6.1%}  eq. 76: the step-time estimate",
              f"{'activation memory':<26}{_bytes(c['activation']):>12}"
              f"{_bytes(c['pred_activation']):>12}{_r(r['activation']):>10}  "
              f"{1 - r['activation']:6.1%}  eq. 58 + M_aux {_bytes(c['pred_aux'])}"]
    kinds = plan['kinds']
    if kinds == ['basic']:
        lines.append(f'paper closed form: eta_basic = {eta_basic()} (eq. 56)')
    elif kinds == ['vit'] and plan.get('tokens'):
        t, d = plan['tokens'][1], plan['tokens'][2]
        lines.append(f'paper closed form: eta_ViT = 1/(12 + 2T/d) = {eta_vit(t, d):.4f} for '
                     f'T={t}, d={d} (eq. 57: one projection; the measured eta_r includes the '
                     'MLP-fusion branch when synthesis_branches has it)')
    return '\n'.join(lines)
