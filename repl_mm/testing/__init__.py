"""Test and demo data (as ``mmdet.testing``): a synthetic COCO-format detection set and
synthetic training batches for a model of any of the three toolboxes."""
from .batches import synthetic_batch
from .synthetic_coco import SHAPE_CLASSES, make_synthetic_coco, render_image

__all__ = ['synthetic_batch', 'SHAPE_CLASSES', 'make_synthetic_coco', 'render_image']
