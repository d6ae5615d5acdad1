"""Counting what a training step costs (paper §V-B, eq. 42, 53-58): parameters, FLOPs and the
bytes autograd saves for backward.

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
  FLOPs of chosen modules attributed to them; :func:`count_elementwise_flops` for the rest.
* :func:`num_params` (eq. 42), :func:`max_abs_diff` (the deploy equivalence of eq. 32-33).
"""
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

__all__ = ['storage_key', 'num_params', 'SavedBytes', 'SavedTensorCounter',
           'count_saved_bytes', 'FlopCount', 'count_flops', 'count_elementwise_flops',
           'flop_counter', 'FusedAttentionOnMeta', 'max_abs_diff', 'flatten_tensors',
           'ratio_or_none']


def storage_key(t: Tensor) -> int:
    """An id of the storage behind ``t``, shared by all its views (also on the meta device,
    where every ``data_ptr`` is 0)."""
    return t.untyped_storage()._cdata


def num_params(module: nn.Module, trainable: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if
    ``trainable``), each shared parameter counted once."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


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


def max_abs_diff(a: Any, b: Any) -> float:
    """Largest absolute difference between the tensors of two equally nested outputs."""
    fa, fb = tree_flatten(a)[0], tree_flatten(b)[0]
    ta = [t for t in fa if isinstance(t, Tensor)]
    tb = [t for t in fb if isinstance(t, Tensor)]
    if len(ta) != len(tb) or not ta:
        raise ValueError(f'outputs differ in structure: {len(ta)} vs {len(tb)} tensors')
    return max(float((x.detach().float() - y.detach().float()).abs().max()) if x.numel() else 0.
               for x, y in zip(ta, tb))


def flatten_tensors(out: Any) -> Iterable[Tensor]:
    """The tensors of a (nested) output, in ``tree_flatten`` order."""
    return (t for t in tree_flatten(out)[0] if isinstance(t, Tensor))


def ratio_or_none(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """``a / b``, or None when either is missing or ``b`` is 0."""
    return None if a is None or b in (None, 0) else a / b
