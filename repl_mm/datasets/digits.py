"""The scikit-learn handwritten digits as an mmpretrain dataset: real images that need no
download, for the small real-data evidence of docs/evidence.md (issue 15).

``sklearn.datasets.load_digits()`` ships 1,797 grey 8x8 images of the digits 0-9 (the UCI
"Optical Recognition of Handwritten Digits" test set, 4-bit intensities 0..16) inside the
scikit-learn package.
"""
from typing import List, Optional, Tuple

import numpy as np
from mmpretrain.datasets.base_dataset import BaseDataset
from mmpretrain.registry import DATASETS

__all__ = ['DigitsDataset', 'digits_split']

NUM_DIGITS = 1797


def digits_split(num: int, test_fraction: float) -> Tuple[np.ndarray, np.ndarray]:
    """The fixed train/test split: the last ``round(test_fraction * num)`` samples in
    scikit-learn's order are the test set, the others the training set (no randomness; with
    the default 0.2: 1,438 train, 359 test).

    Returns:
        ``(train_indices, test_indices)``.
    """
    num_test = int(round(test_fraction * num))
    idx = np.arange(num)
    return idx[:num - num_test], idx[num - num_test:]


@DATASETS.register_module()
class DigitsDataset(BaseDataset):
    """scikit-learn's 1,797 handwritten digits, upsampled to ``img_size`` RGB images.

    Each 8x8 image (intensities 0..16) is scaled to 0..255 (``round(v * 255 / 16)``),
    upsampled by nearest-neighbour replication to ``img_size x img_size`` (32: each pixel
    becomes a 4x4 block) and repeated over 3 channels, so CIFAR-style pipelines and
    backbones apply unchanged. Items are ``{'img': HxWx3 uint8, 'gt_label': int}`` like
    mmpretrain's ``CIFAR10`` (pipelines start with the augmentation; ``to_rgb=False``).

    Split (:func:`digits_split`): the last ``test_fraction`` of the samples in
    scikit-learn's order is the test set; fixed, no random seed involved.

    Args:
        split (str): ``'train'`` or ``'test'``. Default ``'train'``.
        img_size (int): output side, a multiple of 8 (>= 8). Default 32.
        test_fraction (float): in (0, 1). Default 0.2.
        data_root (str): unused (the data ships with scikit-learn); accepted so that
            dataset configs look like the others. Default ``''``.
        **kwargs: any other argument of mmpretrain's ``BaseDataset`` (``pipeline``,
            ``indices``, ``test_mode``, ...).
    """
    METAINFO = {'classes': tuple(str(d) for d in range(10))}
    SPLITS = ('train', 'test')

    def __init__(self, split: str = 'train', img_size: int = 32, test_fraction: float = 0.2,
                 data_root: str = '', metainfo: Optional[dict] = None, **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'DigitsDataset: split must be one of {self.SPLITS}, got {split!r}')
        if isinstance(img_size, bool) or not isinstance(img_size, int) or img_size < 8 \
                or img_size % 8:
            raise ValueError(f'DigitsDataset: img_size must be a multiple of 8 (>= 8), got '
                             f'{img_size!r}')
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
                or not 0 < test_fraction < 1:
            raise ValueError(f'DigitsDataset: test_fraction must be in (0, 1), got '
                             f'{test_fraction!r}')
        self.split = split
        self.img_size = img_size
        self.test_fraction = float(test_fraction)
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(root=''), **kwargs)

    def load_data_list(self) -> List[dict]:
        try:
            from sklearn.datasets import load_digits
        except ImportError as e:
            raise ImportError('DigitsDataset needs scikit-learn (pip install scikit-learn; '
                              'tools/install_env.sh installs it)') from e
        digits = load_digits()
        images, labels = digits.images, digits.target.astype(np.int64)
        if images.shape != (NUM_DIGITS, 8, 8):
            raise ValueError(f'DigitsDataset: scikit-learn returned images of shape '
                             f'{images.shape}, expected ({NUM_DIGITS}, 8, 8)')
        train, test = digits_split(len(images), self.test_fraction)
        keep = train if self.split == 'train' else test
        imgs = np.rint(images[keep] * (255. / 16.)).astype(np.uint8)
        factor = self.img_size // 8
        imgs = imgs.repeat(factor, axis=1).repeat(factor, axis=2)        # nearest upsampling
        imgs = np.ascontiguousarray(np.repeat(imgs[..., None], 3, axis=3))  # N x H x W x 3
        return [{'img': img, 'gt_label': int(label)} for img, label in zip(imgs, labels[keep])]

    def extra_repr(self) -> List[str]:
        return [f'Split: \t{self.split}', f'Image size: \t{self.img_size}',
                f'Test fraction: \t{self.test_fraction}']
