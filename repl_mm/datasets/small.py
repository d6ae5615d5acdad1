"""Dataset classes for the official SVHN and STL-10 files (paper §IV-A).

Both yield ``{'img': HxWx3 uint8 RGB array, 'gt_label': int}`` like mmpretrain's ``CIFAR10``,
so the configs' pipelines start with the augmentation (no ``LoadImageFromFile``) and the data
preprocessor uses ``to_rgb=False``.
"""
import io
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.fileio import exists, get, join_path
from mmpretrain.datasets.base_dataset import BaseDataset
from mmpretrain.registry import DATASETS

__all__ = ['SVHN', 'STL10']


class _OfficialArrayDataset(BaseDataset):
    """Common part: split check, file presence check, array -> data list.

    Args:
        data_root (str): the folder holding the official files.
        split (str): one of ``SPLITS``.
        metainfo (dict, optional): overrides ``METAINFO`` (e.g. ``classes``).
        **kwargs: any other argument of mmpretrain's ``BaseDataset`` (``pipeline``,
            ``indices``, ``test_mode``, ...).
    """
    SPLITS: Tuple[str, ...] = ()
    URL = ''

    def __init__(self, data_root: str, split: str = 'train', metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of {self.SPLITS}, '
                             f'got {split!r}')
        if not data_root:
            raise ValueError(f'{type(self).__name__}: data_root must name the folder of the '
                             f'official files ({self.URL})')
        self.split = split
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(root=''), **kwargs)

    def _files(self) -> Sequence[str]:
        raise NotImplementedError

    def _read(self, paths: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """Returns ``(images N x H x W x 3 uint8, labels N int64 in [0, 10))``."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        root = self.data_prefix['root']
        paths = [join_path(root, f) for f in self._files()]
        missing = [p for p in paths if not exists(p)]
        if missing:
            raise FileNotFoundError(
                f'{type(self).__name__} ({self.split}) needs {", ".join(missing)}; download '
                f'the official release from {self.URL} (see docs/classification.md)')
        imgs, labels = self._read(paths)
        if len(imgs) != len(labels):
            raise ValueError(f'{type(self).__name__}: {len(imgs)} images but {len(labels)} '
                             f'labels in {paths}')
        return [{'img': img, 'gt_label': int(label)} for img, label in zip(imgs, labels)]

    def extra_repr(self) -> List[str]:
        return [f'Split: \t{self.split}', f"Root of data: \t{self.data_prefix['root']}"]


@DATASETS.register_module()
class SVHN(_OfficialArrayDataset):
    """`SVHN <http://ufldl.stanford.edu/housenumbers/>`_ cropped digits (format 2).

    Reads ``{split}_32x32.mat`` (MATLAB v5: ``X`` of shape 32x32x3xN, ``y`` of shape Nx1 with
    labels 1-10, where 10 is the digit 0) from ``data_root`` with ``scipy.io.loadmat``; the
    digit ``d`` gets class ``d`` (label 10 -> 0), as in torchvision.

    Args:
        data_root (str): folder with ``train_32x32.mat``, ``test_32x32.mat`` and (optional)
            ``extra_32x32.mat``.
        split (str): ``'train'`` (73,257 images), ``'test'`` (26,032) or ``'extra'``
            (531,131). Default ``'train'``.
        **kwargs: see :class:`_OfficialArrayDataset`.
    """
    SPLITS = ('train', 'test', 'extra')
    URL = 'http://ufldl.stanford.edu/housenumbers/'
    METAINFO = {'classes': tuple(str(d) for d in range(10))}

    def _files(self) -> Sequence[str]:
        return [f'{self.split}_32x32.mat']

    def _read(self, paths):
        from scipy.io import loadmat
        mat = loadmat(io.BytesIO(get(paths[0])))
        x, y = mat['X'], mat['y']
        if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
            raise ValueError(f'SVHN: X in {paths[0]} must have shape (32, 32, 3, N), '
                             f'got {x.shape}')
        labels = y.reshape(-1).astype(np.int64)
        if labels.size and (labels.min() < 1 or labels.max() > 10):
            raise ValueError(f'SVHN: labels in {paths[0]} must be 1..10, got '
                             f'{labels.min()}..{labels.max()}')
        return np.ascontiguousarray(x.transpose(3, 0, 1, 2)), labels % 10


@DATASETS.register_module()
class STL10(_OfficialArrayDataset):
    """`STL-10 <https://cs.stanford.edu/~acoates/stl10/>`_ labelled images, binary release.

    Reads ``stl10_binary/{split}_X.bin`` (uint8, N x 3 x 96 x 96 in column-major order, i.e.
    each channel stored transposed) and ``stl10_binary/{split}_y.bin`` (uint8 labels 1-10)
    under ``data_root``; class ``k`` is line ``k+1`` of ``class_names.txt`` (airplane, bird,
    car, cat, deer, dog, horse, monkey, ship, truck).

    Args:
        data_root (str): folder holding ``stl10_binary/`` (as unpacked from
            ``stl10_binary.tar.gz``).
        split (str): ``'train'`` (5,000 images) or ``'test'`` (8,000). Default ``'train'``.
        **kwargs: see :class:`_OfficialArrayDataset`.
    """
    SPLITS = ('train', 'test')
    URL = 'https://cs.stanford.edu/~acoates/stl10/'
    METAINFO = {'classes': ('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse',
                            'monkey', 'ship', 'truck')}
    SIZE = 96

    def _files(self) -> Sequence[str]:
        return [f'stl10_binary/{self.split}_X.bin', f'stl10_binary/{self.split}_y.bin']

    def _read(self, paths):
        raw = np.frombuffer(get(paths[0]), dtype=np.uint8)
        per_image = 3 * self.SIZE * self.SIZE
        if raw.size % per_image:
            raise ValueError(f'STL10: {paths[0]} holds {raw.size} bytes, not a multiple of '
                             f'3x96x96 = {per_image}')
        # (N, C, W, H) as stored -> (N, H, W, C)
        imgs = raw.reshape(-1, 3, self.SIZE, self.SIZE).transpose(0, 3, 2, 1)
        labels = np.frombuffer(get(paths[1]), dtype=np.uint8).astype(np.int64)
        if labels.size and (labels.min() < 1 or labels.max() > 10):
            raise ValueError(f'STL10: labels in {paths[1]} must be 1..10, got '
                             f'{labels.min()}..{labels.max()}')
        return np.ascontiguousarray(imgs), labels - 1
