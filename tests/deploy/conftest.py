import os.path as osp
import sys

# the tiny-data generators of tests/e2e (make_tiny_imagenet, make_tiny_cityscapes, ...)
_E2E = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'e2e')
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)
