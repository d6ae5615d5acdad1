"""repl_mm.testing.batches: synthetic ground truth for the three toolboxes' losses."""
import pytest
import torch
from torch import nn

from repl_mm.testing import synthetic_batch


def _module(**children) -> nn.Module:
    m = nn.Module()
    for k, v in children.items():
        setattr(m, k, v)
    return m


def _head(num_classes: int) -> nn.Module:
    head = nn.Module()
    head.num_classes = num_classes
    return head


def test_two_stage_detector_classes_from_roi_head():
    """Faster R-CNN keeps its classes in ``roi_head.bbox_head`` (Cascade: a list of them)."""
    for roi in (_module(bbox_head=_head(3)), _module(bbox_head=nn.ModuleList([_head(3)]))):
        x, samples = synthetic_batch(_module(roi_head=roi), 'mmdet', 2, (64, 96), 'cpu', seed=1)
        assert x.shape == (2, 3, 64, 96)
        labels = torch.cat([s.gt_instances.labels for s in samples])
        assert labels.shape == (8,) and 0 <= int(labels.min()) and int(labels.max()) < 3
        boxes = torch.cat([s.gt_instances.bboxes for s in samples])
        assert bool((boxes[:, 2:] > boxes[:, :2]).all())


def test_segmentor_label_maps_and_classifier_default():
    _, samples = synthetic_batch(_module(decode_head=_head(5)), 'mmseg', 1, (8, 8), 'cpu')
    assert samples[0].gt_sem_seg.data.shape == (1, 8, 8)
    assert int(samples[0].gt_sem_seg.data.max()) < 5
    _, samples = synthetic_batch(nn.Module(), 'mmpretrain', 4, (8, 8), 'cpu')
    assert all(0 <= int(s.gt_label) < 10 for s in samples)  # no head: 10 classes


def test_errors_name_the_scope_and_the_heads():
    with pytest.raises(ValueError, match=r"scope \(default_scope\) must be one of"):
        synthetic_batch(nn.Module(), 'mmocr', 1, (8, 8), 'cpu')
    with pytest.raises(ValueError, match='roi_head.bbox_head'):
        synthetic_batch(nn.Module(), 'mmdet', 1, (8, 8), 'cpu')
