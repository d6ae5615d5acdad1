import os.path as osp
import sys

import pytest

# the tiny-data generators of tests/e2e (make_tiny_imagenet, make_tiny_cityscapes, ...)
_E2E = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'e2e')
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)


@pytest.fixture(scope='module')
def cls_case(tmp_path_factory):
    """A tiny ResNet-34-RepL classifier config (configs/resnet101_repl_imagenet.py on a 6-class
    tiny ImageNet) with its training and deploy checkpoints, once per test module:
    ``(config, train_checkpoint, deploy_checkpoint, tmp_dir)``."""
    from repl_deploy_configs import cls_config, make_checkpoints
    tmp = tmp_path_factory.mktemp('cls_case')
    config = cls_config(tmp)
    train, deploy = make_checkpoints(config, tmp)
    return config, train, deploy, tmp
