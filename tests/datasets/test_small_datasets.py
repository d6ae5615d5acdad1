"""SVHN and STL-10 readers of the official files (repl_mm/datasets/small.py) and the configs'
pipelines on them (paper §IV-A augmentation)."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import repl_mm.datasets  # noqa: F401
from repl_mm.datasets import STL10, SVHN

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')


def write_svhn(root: str, split: str, n: int = 6):
    """``{split}_32x32.mat``: X (32, 32, 3, N) uint8, y (N, 1) with 10 meaning digit 0."""
    from scipy.io import savemat
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).reshape(-1, 1).astype(np.uint8)   # 1..10
    os.makedirs(root, exist_ok=True)
    savemat(osp.join(root, f'{split}_32x32.mat'), {'X': x, 'y': y})
    return x, y


def write_stl10(root: str, split: str, n: int = 4):
    """``stl10_binary/{split}_X.bin``: per image 3 channels of 96x96 stored column-major."""
    rng = np.random.default_rng(1)
    hwc = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
    folder = osp.join(root, 'stl10_binary')
    os.makedirs(folder, exist_ok=True)
    # column-major channel planes: for each image, for each channel, W-major then H
    hwc.transpose(0, 3, 2, 1).tofile(osp.join(folder, f'{split}_X.bin'))
    labels = (np.arange(n) % 10 + 1).astype(np.uint8)
    labels.tofile(osp.join(folder, f'{split}_y.bin'))
    return hwc, labels


def test_svhn_reads_official_mat(tmp_path):
    x, y = write_svhn(str(tmp_path), 'test', n=12)
    ds = SVHN(data_root=str(tmp_path), split='test')
    assert len(ds) == 12
    for i in range(12):
        item = ds.get_data_info(i)
        np.testing.assert_array_equal(item['img'], x[..., i])
        assert item['gt_label'] == int(y[i, 0]) % 10          # label 10 is digit 0
    assert ds.get_data_info(9)['gt_label'] == 0
    assert ds.CLASSES == tuple('0123456789')


def test_stl10_reads_official_binary(tmp_path):
    hwc, labels = write_stl10(str(tmp_path), 'train')
    ds = STL10(data_root=str(tmp_path), split='train')
    assert len(ds) == 4
    for i in range(4):
        item = ds.get_data_info(i)
        assert item['img'].shape == (96, 96, 3)
        np.testing.assert_array_equal(item['img'], hwc[i])    # upright, not transposed
        assert item['gt_label'] == labels[i] - 1
    assert ds.CLASSES[0] == 'airplane' and len(ds.CLASSES) == 10


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test', 'extra'\)"):
        SVHN(data_root=str(tmp_path), split='val')
    with pytest.raises(ValueError, match='data_root must name'):
        STL10(data_root='', split='train')
    with pytest.raises(FileNotFoundError, match='train_32x32.mat'):
        SVHN(data_root=str(tmp_path), split='train')
    folder = tmp_path / 'stl10_binary'
    folder.mkdir()
    np.zeros(100, np.uint8).tofile(folder / 'test_X.bin')
    np.ones(1, np.uint8).tofile(folder / 'test_y.bin')
    with pytest.raises(ValueError, match='not a multiple of'):
        STL10(data_root=str(tmp_path), split='test')


@pytest.mark.parametrize('config,size', [('cifar-resnet32_repl_svhn', 32),
                                         ('vit-tiny-p8_repl_stl10', 96),
                                         ('vit-small-p16-ft_repl_stl10', 224)])
def test_config_pipelines(tmp_path, config, size):
    from mmpretrain.registry import DATASETS
    if 'svhn' in config:
        write_svhn(str(tmp_path), 'train')
    else:
        write_stl10(str(tmp_path), 'train')
    cfg = Config.fromfile(osp.join(CONFIGS, config + '.py'))
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = str(tmp_path)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dataset_cfg)
    packed = dataset[0]
    assert tuple(packed['inputs'].shape) == (3, size, size)
    # first file label is 1: SVHN digit 1 -> class 1; STL-10 label 1 (airplane) -> class 0
    assert packed['data_samples'].gt_label.item() == (1 if 'svhn' in config else 0)
