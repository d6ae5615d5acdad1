"""Synthetic training batches for a toolbox model: random normalised images and matching ground
truth, so that ``model.loss`` runs without a dataset (the benchmarks of
:mod:`repl_mm.analysis` and the tests)."""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

__all__ = ['SCOPES', 'synthetic_batch']

#: The toolbox scopes :func:`synthetic_batch` makes ground truth for.
SCOPES = ('mmpretrain', 'mmdet', 'mmseg')

#: Where the toolboxes' models keep their number of classes, tried in order.
_CLASS_HEADS = {'mmpretrain': ('head',),
                'mmdet': ('bbox_head', 'roi_head.bbox_head', 'roi_head.bbox_head.0'),
                'mmseg': ('decode_head',)}


def _num_classes(model: nn.Module, scope: str) -> int:
    """``num_classes`` of the model's (first) head, searched in :data:`_CLASS_HEADS`.

    Raises:
        ValueError: naming the model class and the attributes tried.
    """
    for path in _CLASS_HEADS[scope]:
        node = model
        for part in path.split('.'):
            if isinstance(node, nn.ModuleList) and part.isdigit():
                node = node[int(part)] if int(part) < len(node) else None
            else:
                node = getattr(node, part, None)
            if node is None:
                break
        classes = getattr(node, 'num_classes', None)
        if isinstance(classes, int) and classes > 0:
            return classes
    if scope == 'mmpretrain':
        return 10
    raise ValueError(f'{type(model).__name__}: no head with num_classes at '
                     f'{" / ".join(_CLASS_HEADS[scope])}; cannot make {scope} ground truth')


def synthetic_batch(model: nn.Module, scope: str, batch_size: int, input_size: Sequence[int],
                    device, dtype: torch.dtype = torch.float32, seed: int = 0
                    ) -> Tuple[Tensor, List]:
    """Random normalised images and matching ground truth for ``model.loss``: class labels
    (mmpretrain), boxes + labels + image metas (mmdet), label maps (mmseg).

    Args:
        model (nn.Module): the toolbox model (its head gives the number of classes).
        scope (str): ``'mmpretrain'``, ``'mmdet'`` or ``'mmseg'``.
        batch_size (int): number of images.
        input_size (Sequence[int]): ``(H, W)``.
        device: where the tensors go.
        dtype: dtype of the images.
        seed (int): seed of the generator (images and ground truth follow from it).

    Returns:
        tuple: the ``(batch_size, 3, H, W)`` images and the list of data samples.
    """
    if scope not in SCOPES:
        raise ValueError(f'scope must be one of {SCOPES}, got {scope!r}')
    g = torch.Generator().manual_seed(seed)
    h, w = input_size
    x = torch.randn(batch_size, 3, h, w, generator=g).to(device=device, dtype=dtype)
    classes = _num_classes(model, scope)
    samples = []
    if scope == 'mmpretrain':
        from mmpretrain.structures import DataSample
        for _ in range(batch_size):
            samples.append(DataSample().set_gt_label(
                int(torch.randint(classes, (1,), generator=g))))
    elif scope == 'mmdet':
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
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
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        for _ in range(batch_size):
            s = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w),
                                            ori_shape=(h, w)))
            s.gt_sem_seg = PixelData(
                data=torch.randint(classes, (1, h, w), generator=g).to(device))
            samples.append(s)
    return x, samples
