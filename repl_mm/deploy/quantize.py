"""Post-training INT8 quantization of deploy-form RepL classifiers (paper §IV-D1j, Table XVII).

Two schemes, as in the paper:

* ``int8_dynamic_linear`` (ViTs): ``torch.ao.quantization.quantize_dynamic`` on every
  ``nn.Linear`` -- weights INT8 per channel, activations quantized on the fly;
* ``int8_fx_static`` (ResNets): FX graph-mode static quantization
  (``torch.ao.quantization.quantize_fx.prepare_fx`` / ``convert_fx`` with the ``x86`` qconfig
  mapping), calibrated on a few batches; conv + BN + ReLU are fused first.

Why FX on torch 2.13: it still runs (with a deprecation warning pointing to torchao); the PT2E
path with ``X86InductorQuantizer`` has moved out of torch (``torch.ao.quantization.quantize_pt2e``
no longer exists) into torchao, which is not installed. Both schemes run on the CPU
(quantized kernels: fbgemm / onednn), so the INT8 models are evaluated and timed on the CPU.

The models are quantized in the deploy form (eq. 32-33): the computing layers are then plain
convolutions / linears and quantize like the rest of the network.
"""
import copy
import statistics
import time
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

__all__ = ['SCHEMES', 'ClassifierLogits', 'quantize_dynamic_linear', 'quantize_fx_static',
           'quantize_classifier', 'default_scheme', 'topk_accuracy', 'evaluate',
           'latency_ms_per_img', 'QuantRow', 'format_table', 'int8_closeness']

SCHEMES = ('int8_dynamic_linear', 'int8_fx_static')


class ClassifierLogits(nn.Module):
    """``head(neck(backbone(x)))`` of an mmpretrain ``ImageClassifier``: normalised image to
    logits, with no ``mode`` switch and no data samples, so FX can trace it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.neck = getattr(model, 'neck', None)
        self.head = model.head

    def forward(self, x: Tensor) -> Tensor:
        feats = self.backbone(x)
        if self.neck is not None:
            feats = self.neck(feats)
        return self.head(feats)


def default_scheme(model: nn.Module) -> str:
    """``int8_dynamic_linear`` for a ViT backbone (it has ``layers`` of transformer blocks),
    ``int8_fx_static`` otherwise (paper §IV-D1j)."""
    backbone = getattr(model, 'backbone', model)
    return 'int8_dynamic_linear' if hasattr(backbone, 'patch_embed') else 'int8_fx_static'


def quantize_dynamic_linear(model: nn.Module) -> nn.Module:
    """Dynamic INT8 on every ``nn.Linear`` of a copy of ``model`` (``int8_dynamic_linear``)."""
    from torch.ao.quantization import quantize_dynamic
    return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def quantize_fx_static(model: nn.Module, calibration: Iterable[Tensor],
                       backend: str = 'x86') -> nn.Module:
    """FX graph-mode static INT8 of a copy of ``model`` (``int8_fx_static``).

    Args:
        model (nn.Module): a traceable float model taking one image tensor (e.g.
            :class:`ClassifierLogits` of a deploy-form classifier), eval mode.
        calibration (Iterable[Tensor]): input batches for the observers.
        backend (str): the qconfig mapping / quantized engine, ``'x86'`` or ``'qnnpack'``.

    Raises:
        ValueError: no calibration batch, or a backend the torch build does not support.
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    if backend not in torch.backends.quantized.supported_engines:
        raise ValueError(f'backend must be one of {torch.backends.quantized.supported_engines}, '
                         f'got {backend!r}')
    torch.backends.quantized.engine = backend
    batches = iter(calibration)
    first = next(batches, None)
    if first is None:
        raise ValueError('calibration needs at least one batch')
    float_model = copy.deepcopy(model).eval()
    prepared = prepare_fx(float_model, get_default_qconfig_mapping(backend), (first,))
    with torch.no_grad():
        prepared(first)
        for x in batches:
            prepared(x)
    return convert_fx(prepared)


def quantize_classifier(model: nn.Module, scheme: str,
                        calibration: Sequence[Tensor] = ()) -> nn.Module:
    """The INT8 version of a deploy-form classifier as an image -> logits module.

    Args:
        model (nn.Module): an mmpretrain ``ImageClassifier`` in the deploy form, eval mode.
        scheme (str): one of :data:`SCHEMES`.
        calibration (Sequence[Tensor]): normalised input batches (``int8_fx_static``).
    """
    if scheme not in SCHEMES:
        raise ValueError(f'scheme must be one of {SCHEMES}, got {scheme!r}')
    logits = ClassifierLogits(model).eval()
    if scheme == 'int8_dynamic_linear':
        return quantize_dynamic_linear(logits)
    return quantize_fx_static(logits, calibration)


def topk_accuracy(logits: Tensor, labels: Tensor, ks: Sequence[int] = (1, 5)) -> List[int]:
    """The number of samples whose label is among the top-k logits, for each k (k is capped
    at the number of classes, as mmpretrain's ``Accuracy`` does)."""
    out = []
    for k in ks:
        top = logits.topk(min(k, logits.shape[-1]), dim=-1).indices
        out.append(int((top == labels[:, None]).any(-1).sum()))
    return out


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Tuple[Tensor, Tensor]]) -> Tuple[float, float]:
    """Top-1 / top-5 accuracy (%) of an image -> logits ``model`` on ``(inputs, labels)``."""
    n = c1 = c5 = 0
    for x, y in batches:
        a, b = topk_accuracy(model(x), y)
        c1, c5, n = c1 + a, c5 + b, n + len(y)
    if n == 0:
        raise ValueError('the test set is empty')
    return 100.0 * c1 / n, 100.0 * c5 / n


@torch.no_grad()
def int8_closeness(fp32: nn.Module, int8: nn.Module, x: Tensor) -> Tuple[float, float]:
    """How close the INT8 model's logits are to the FP32 model's on the fixed batch ``x``.

    Returns:
        ``(top1_agreement, rel_error)``: the fraction of samples whose top-1 class is the
        same, and ``max |z_int8 - z_fp32| / max |z_fp32|`` over the batch's logits.
    """
    ref, got = fp32(x).float(), int8(x).float()
    if ref.shape != got.shape:
        raise ValueError(f'INT8 logits {tuple(got.shape)} vs FP32 {tuple(ref.shape)}')
    agree = (ref.argmax(-1) == got.argmax(-1)).float().mean().item()
    scale = ref.abs().max().item()
    err = (got - ref).abs().max().item()
    return agree, (err / scale if scale > 0 else err)


@torch.no_grad()
def latency_ms_per_img(model: nn.Module, x: Tensor, warmup: int = 2, repeat: int = 5) -> float:
    """Median wall time of ``model(x)`` over ``repeat`` runs (after ``warmup``), per image."""
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times) / x.shape[0]


@dataclass
class QuantRow:
    """One row of Table XVII."""
    backbone: str
    method: str
    scheme: str
    fp32: Tuple[float, float]
    int8: Tuple[float, float]
    fp32_ms: float
    int8_ms: float
    images: int
    top1_agreement: Optional[float] = None
    rel_error: Optional[float] = None


def format_table(rows: Sequence[QuantRow], note: Optional[str] = None) -> str:
    """Table XVII's layout: accuracy FP32 / INT8, the INT8 - FP32 deltas, throughput and
    latency for both precisions; then how close INT8 is to FP32 on a fixed batch (top-1
    agreement, max relative logit error; :func:`int8_closeness`)."""
    head = ('| backbone | method | scheme | FP32 top-1 | FP32 top-5 | INT8 top-1 | INT8 top-5 '
            '| Δtop-1 | Δtop-5 | FP32 img/s | INT8 img/s | FP32 ms/img | INT8 ms/img '
            '| top-1 agree | max rel. err |')
    lines = [head, '|' + ' --- |' * 15]
    for r in rows:
        lines.append(
            f'| {r.backbone} | {r.method} | {r.scheme} | {r.fp32[0]:.3f} | {r.fp32[1]:.3f} | '
            f'{r.int8[0]:.3f} | {r.int8[1]:.3f} | {r.int8[0] - r.fp32[0]:+.3f} | '
            f'{r.int8[1] - r.fp32[1]:+.3f} | {1000.0 / r.fp32_ms:.1f} | '
            f'{1000.0 / r.int8_ms:.1f} | {r.fp32_ms:.3f} | {r.int8_ms:.3f} | '
            + ('- | - |' if r.top1_agreement is None else
               f'{100 * r.top1_agreement:.1f}% | {r.rel_error:.3e} |'))
    if note:
        lines.append('')
        lines.append(note)
    return '\n'.join(lines)
