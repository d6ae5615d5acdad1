"""Test helpers (as ``mmdet.testing``): a synthetic COCO-format detection set, synthetic
training batches for a model of any of the three toolboxes, config differences and model
building (:mod:`.configs`), and tool scripts loaded as modules (:mod:`.tools`)."""
from ..adapters.batches import synthetic_batch
from .configs import MISSING, build_model, config_diff, flatten_config
from .synthetic_coco import SHAPE_CLASSES, make_synthetic_coco, render_image
from .tools import REPO_ROOT, load_tool

__all__ = ['synthetic_batch', 'MISSING', 'build_model', 'config_diff', 'flatten_config',
           'SHAPE_CLASSES', 'make_synthetic_coco', 'render_image', 'REPO_ROOT', 'load_tool']
