import os
import os.path as osp

import pytest

from repl_mm.testing import make_synthetic_coco
from repl_mm.testing.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(ROOT, 'tests', 'tools', 'tiny_retinanet_repl.py')


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A tiny synthetic COCO-format set (16 train / 8 val images of 64 px), exported as
    SHAPES_ROOT, which the demo configs (and the tiny test config) read."""
    root = str(tmp_path_factory.mktemp('shapes')) + '/'
    make_synthetic_coco(root, num_train=16, num_val=8, image_size=64, min_size=12,
                        max_size=32, seed=0)
    old = os.environ.get('SHAPES_ROOT')
    os.environ['SHAPES_ROOT'] = root
    yield root
    if old is None:
        os.environ.pop('SHAPES_ROOT', None)
    else:
        os.environ['SHAPES_ROOT'] = old


def _load_tool(name: str):
    return load_tool(f'tools/{name}.py')


@pytest.fixture
def one_thread():
    """Runs a test on one intra-op thread (as the 2-process runs do): steadier on a shared
    machine, where spinning OpenMP threads cost more than they bring."""
    import torch
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope='session')
def train_tool():
    return _load_tool('train')


@pytest.fixture(scope='session')
def test_tool():
    return _load_tool('test')
