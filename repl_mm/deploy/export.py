"""ONNX export of deploy-form RepL models, checked in onnxruntime (paper §IV-D1e).

After :meth:`switch_to_deploy` (eq. 32-33) a RepL backbone is plain convolutions / linears, so
the model exports with ``torch.onnx.export`` like its stock twin. What is exported:

* an mmpretrain classifier end to end: ``(N, 3, H, W)`` float image in the data preprocessor's
  channel order and 0-255 range -> normalisation (``mean`` / ``std``) -> backbone -> neck ->
  head -> ``logits`` and ``scores`` (softmax);
* an mmdet detector / mmseg segmentor: its raw tensors (``mode='tensor'``: RetinaNet's per-level
  class and box maps, the decode head's logits) from a normalised input; box decoding and NMS
  stay outside (they are post-processing, and mmdeploy -- the toolboxes' ONNX path -- does not
  support torch 2.x).

:func:`verify_onnx` runs the file in onnxruntime on the export input and returns the max
relative difference to PyTorch per output (``max |ort - torch| / max |torch|``).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from .fold import flatten_tensors

__all__ = ['ClassifierEndToEnd', 'RawTensors', 'export_wrapper', 'export_onnx', 'verify_onnx']


class ClassifierEndToEnd(nn.Module):
    """An mmpretrain classifier from raw image to logits and softmax scores.

    Args:
        model (nn.Module): an ``ImageClassifier`` (its ``data_preprocessor`` normalises).
        normalize (bool): include the preprocessor's ``(x - mean) / std``. Default True.
    """

    def __init__(self, model: nn.Module, normalize: bool = True) -> None:
        super().__init__()
        self.model = model
        pre = getattr(model, 'data_preprocessor', None)
        self.normalize = normalize and getattr(pre, '_enable_normalize', False)
        if self.normalize:
            self.register_buffer('mean', pre.mean.detach().clone().reshape(1, -1, 1, 1))
            self.register_buffer('std', pre.std.detach().clone().reshape(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        if self.normalize:
            x = (x - self.mean) / self.std
        logits = self.model(x, mode='tensor')
        return logits, logits.softmax(-1)


class RawTensors(nn.Module):
    """A detector's / segmentor's ``mode='tensor'`` outputs as a flat tuple (no NMS)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(flatten_tensors(self.model(x, mode='tensor')))


def export_wrapper(model: nn.Module, scope: str) -> Tuple[nn.Module, List[str]]:
    """The module to export for ``scope`` and its output names.

    Args:
        model (nn.Module): the deploy-form model in eval mode.
        scope (str): ``'mmpretrain'``, ``'mmdet'`` or ``'mmseg'``.
    """
    if scope == 'mmpretrain':
        return ClassifierEndToEnd(model).eval(), ['logits', 'scores']
    if scope in ('mmdet', 'mmseg'):
        return RawTensors(model).eval(), []
    raise ValueError(f"scope must be 'mmpretrain', 'mmdet' or 'mmseg', got {scope!r}")


def export_onnx(module: nn.Module, x: Tensor, path: str, output_names: Sequence[str] = (),
                opset: int = 17, dynamic_batch: bool = True) -> List[str]:
    """Exports ``module(x)`` to ``path`` (TorchScript-based exporter, ``dynamo=False``: it
    needs no onnxscript and keeps the graph to standard ONNX ops).

    Returns:
        list[str]: the output names in the file.
    """
    with torch.no_grad():
        n_out = len(flatten_tensors(module(x)))
    names = list(output_names) or [f'output_{i}' for i in range(n_out)]
    if len(names) != n_out:
        raise ValueError(f'{len(names)} output names for {n_out} outputs')
    axes = {n: {0: 'batch'} for n in ['input'] + names} if dynamic_batch else None
    torch.onnx.export(module, (x,), path, input_names=['input'], output_names=names,
                      opset_version=opset, dynamic_axes=axes, do_constant_folding=True,
                      dynamo=False)
    return names


def verify_onnx(path: str, module: nn.Module, x: Tensor) -> Dict[str, float]:
    """Runs ``path`` in onnxruntime (CPU) on ``x`` and compares with ``module(x)``.

    Returns:
        dict: output name -> max relative difference ``max |ort - torch| / max |torch|``.
    """
    import onnxruntime as ort
    if not osp.isfile(path):
        raise FileNotFoundError(f'ONNX file {path!r} does not exist')
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        ref = [t.numpy() for t in flatten_tensors(module(x))]
    if len(ref) != len(got):
        raise ValueError(f'onnxruntime returned {len(got)} outputs, PyTorch {len(ref)}')
    diffs = {}
    for name, a, b in zip(names, ref, got):
        if a.shape != b.shape:
            raise ValueError(f'output {name}: PyTorch shape {a.shape}, onnxruntime {b.shape}')
        scale = float(np.abs(a).max())
        diff = float(np.abs(a.astype(np.float64) - b).max())
        diffs[name] = diff / scale if scale > 0 else diff
    return diffs


def example_input(shape: Sequence[int], scope: str, seed: int = 0,
                  generator: Optional[torch.Generator] = None) -> Tensor:
    """A deterministic input: 0-255 pixels for the end-to-end classifier, unit normal for
    the raw-tensor detectors / segmentors."""
    gen = generator or torch.Generator().manual_seed(seed)
    if scope == 'mmpretrain':
        return torch.rand(tuple(shape), generator=gen) * 255
    return torch.randn(tuple(shape), generator=gen)
