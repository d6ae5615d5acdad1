"""AMP inference rows for the inference benchmark (Tables XI / XII): deploy-form latency under
``torch.autocast`` beside fp32.

:func:`amp_dtypes` lists the autocast dtypes a device supports (CUDA: float16, and bfloat16
where ``torch.cuda.is_bf16_supported()``; CPU: bfloat16 only, the one dtype CPU autocast
runs). :func:`amp_inference_rows` times the model's forward in eval mode and ``no_grad`` for
fp32 and each AMP dtype (median of interleaved repetitions, CUDA-synchronised) and reports, for
each AMP row, the max relative difference of its outputs to fp32, so a row whose numbers went
wrong in low precision shows it.
"""
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from .fold import flatten_tensors, max_relative_difference

__all__ = ['amp_dtypes', 'AmpRow', 'amp_inference_rows', 'DTYPE_NAMES']

DTYPE_NAMES = {torch.float16: 'fp16', torch.bfloat16: 'bf16'}


def amp_dtypes(device: torch.device) -> List[torch.dtype]:
    """The autocast dtypes ``device`` supports for inference."""
    device = torch.device(device)
    if device.type == 'cuda':
        return [torch.float16] + ([torch.bfloat16] if torch.cuda.is_bf16_supported() else [])
    if device.type == 'cpu':
        return [torch.bfloat16]
    return []


@dataclass
class AmpRow:
    """One inference row: ``precision`` is ``'fp32'``, ``'amp-fp16'`` or ``'amp-bf16'``."""
    precision: str
    ms_per_img: float
    imgs_per_s: float
    max_rel_diff_to_fp32: float


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def amp_inference_rows(model: nn.Module, x: Tensor, forward: Optional[Callable] = None,
                       dtypes: Optional[Sequence[torch.dtype]] = None, warmup: int = 3,
                       repeat: int = 10) -> List[AmpRow]:
    """fp32 and autocast inference latency of ``model`` on ``x`` (its device).

    Args:
        model (nn.Module): the (deploy-form) model; put in eval mode.
        x (Tensor): the input batch, on the model's device.
        forward (Callable, optional): ``forward(model, x)``; default ``model(x)``. For the mm
            models use ``lambda m, x: m(x, mode='tensor')``.
        dtypes (Sequence[torch.dtype], optional): AMP dtypes; default :func:`amp_dtypes`.
        warmup (int): untimed runs per precision.
        repeat (int): timed runs per precision, interleaved across precisions.

    Returns:
        list[AmpRow]: fp32 first, then one row per AMP dtype.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f'repeat must be >= 1 and warmup >= 0, got {repeat}, {warmup}')
    forward = forward or (lambda m, inp: m(inp))
    device = x.device
    dtypes = list(amp_dtypes(device) if dtypes is None else dtypes)
    model.eval()
    precisions: Dict[str, Optional[torch.dtype]] = {'fp32': None}
    precisions.update({f'amp-{DTYPE_NAMES[d]}': d for d in dtypes})

    def run(dtype: Optional[torch.dtype]):
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32,
                                             enabled=dtype is not None):
            return forward(model, x)

    outputs = {}
    for name, dtype in precisions.items():
        for _ in range(warmup):
            run(dtype)
        outputs[name] = [t.float() for t in flatten_tensors(run(dtype))]
    times: Dict[str, List[float]] = {name: [] for name in precisions}
    for _ in range(repeat):
        for name, dtype in precisions.items():
            _sync(device)
            t0 = time.perf_counter()
            run(dtype)
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    rows = []
    for name in precisions:
        ms = 1000.0 * statistics.median(times[name]) / x.shape[0]
        diff = max_relative_difference(outputs['fp32'], outputs[name])
        rows.append(AmpRow(name, ms, 1000.0 / ms, diff))
    return rows
