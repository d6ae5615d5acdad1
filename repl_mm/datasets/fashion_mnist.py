"""Fashion-MNIST's original idx files: find, check and lay out for mmpretrain's ``FashionMNIST``.

Fashion-MNIST (Xiao et al. 2017, Zalando): 60,000 training and 10,000 test 28x28 grey images of
10 clothing classes, shipped as four idx files (LeCun's MNIST format)::

    train-images-idx3-ubyte(.gz)  magic 2051, count, 28, 28, then count*28*28 bytes
    train-labels-idx1-ubyte(.gz)  magic 2049, count, then count bytes (0-9)
    t10k-images-idx3-ubyte(.gz)
    t10k-labels-idx1-ubyte(.gz)

mmpretrain's ``FashionMNIST(data_root=..., download=False)`` reads the *uncompressed* files
directly under ``data_root``; :func:`prepare` writes them there (decompressing copies, never
touching the originals). Only numpy and the standard library: the check runs before any
toolbox is imported.
"""
import gzip
import hashlib
import os
import os.path as osp
import shutil
import struct
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['FILES', 'EXPECTED_COUNTS', 'DEBIAN_DIR', 'DEFAULT_DATA_ROOT', 'IdxFileError',
           'find_source', 'read_idx_header', 'check_pair', 'prepare', 'write_idx',
           'official_layout']

#: split -> (image file, label file), names without ``.gz``
FILES: Dict[str, Tuple[str, str]] = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
#: the official release's image counts
EXPECTED_COUNTS = {'train': 60000, 'test': 10000}
#: where Debian's ``dataset-fashion-mnist`` package installs the four ``.gz`` files
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'
#: where the configs' ``data_root`` points
DEFAULT_DATA_ROOT = 'data/fashion-mnist'

_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
_HOW_TO_GET = (f'install it with `apt-get install dataset-fashion-mnist` (files in {DEBIAN_DIR}) '
               'or download the four *-ubyte.gz files of '
               'https://github.com/zalandoresearch/fashion-mnist into a folder and pass it '
               'as --src')


class IdxFileError(ValueError):
    """A Fashion-MNIST file is missing or not what the idx format says it should be."""


def _candidates(src: str, name: str) -> List[str]:
    return [osp.join(src, name), osp.join(src, name + '.gz')]


def _locate(src: str, name: str) -> Optional[str]:
    for path in _candidates(src, name):
        if osp.isfile(path):
            return path
    return None


def find_source(src: Optional[str] = None) -> str:
    """The folder holding all four files: ``src`` if given, else Debian's folder.

    Raises:
        IdxFileError: a file is missing; the message names it and how to get the data.
    """
    folder = src if src is not None else DEBIAN_DIR
    missing = [name for pair in FILES.values() for name in pair if _locate(folder, name) is None]
    if missing:
        where = 'the folder given as --src' if src is not None else "Debian's location"
        raise IdxFileError(
            f'Fashion-MNIST: {len(missing)} of 4 files missing in {folder} ({where}): '
            f'{", ".join(m + "[.gz]" for m in missing)}; {_HOW_TO_GET}')
    return folder


def _open(path: str):
    return gzip.open(path, 'rb') if path.endswith('.gz') else open(path, 'rb')


def read_idx_header(path: str) -> Tuple[int, Tuple[int, ...]]:
    """``(magic, dims)`` of an idx file (``.gz`` or not).

    Raises:
        IdxFileError: unreadable, not gzip where named ``.gz``, or a header too short.
    """
    try:
        with _open(path) as f:
            head = f.read(16)
    except (OSError, EOFError) as err:
        raise IdxFileError(f'{path}: cannot be read as an idx file ({err})') from None
    if len(head) < 8:
        raise IdxFileError(f'{path}: {len(head)} bytes, too short for an idx header')
    magic, count = struct.unpack('>II', head[:8])
    if magic == _IMAGE_MAGIC:
        if len(head) < 16:
            raise IdxFileError(f'{path}: image header truncated ({len(head)} of 16 bytes)')
        rows, cols = struct.unpack('>II', head[8:16])
        return magic, (count, rows, cols)
    return magic, (count,)


def _payload_size(path: str) -> int:
    if not path.endswith('.gz'):
        return osp.getsize(path)
    size = 0
    try:
        with gzip.open(path, 'rb') as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    return size
                size += len(chunk)
    except (OSError, EOFError) as err:
        raise IdxFileError(f'{path}: damaged gzip stream ({err})') from None


def check_pair(image_path: str, label_path: str, split: str) -> int:
    """Checks one split's image and label files; returns the number of images.

    Checks: magic numbers (2051 images, 2049 labels), 28x28 images, the file sizes the headers
    imply, equal image and label counts, labels in 0-9.

    Raises:
        IdxFileError: naming the file and what is wrong with it.
    """
    magic, dims = read_idx_header(image_path)
    if magic != _IMAGE_MAGIC:
        raise IdxFileError(f'{image_path}: magic number {magic}, expected {_IMAGE_MAGIC} '
                           f'(an idx3 image file); is it the {split} labels or another file?')
    count, rows, cols = dims
    if (rows, cols) != (28, 28):
        raise IdxFileError(f'{image_path}: images are {rows}x{cols}, Fashion-MNIST has 28x28')
    lmagic, ldims = read_idx_header(label_path)
    lcount = ldims[0]
    if lmagic != _LABEL_MAGIC:
        raise IdxFileError(f'{label_path}: magic number {lmagic}, expected {_LABEL_MAGIC} '
                           f'(an idx1 label file)')
    if lcount != count:
        raise IdxFileError(f'{split}: {count} images in {image_path} but {lcount} labels in '
                           f'{label_path}')
    for path, header, expected in ((image_path, 16, count * 28 * 28), (label_path, 8, count)):
        size = _payload_size(path)
        if size != header + expected:
            raise IdxFileError(f'{path}: {size} bytes, the header announces {header + expected} '
                               f'({count} items): the file is truncated or padded')
    with _open(label_path) as f:
        labels = np.frombuffer(f.read()[8:], dtype=np.uint8)
    if labels.size and int(labels.max()) > 9:
        raise IdxFileError(f'{label_path}: label {int(labels.max())} outside 0-9')
    return count


def _digest(path: str) -> str:
    h = hashlib.sha256()
    with _open(path) as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _write_uncompressed(src: str, dst: str) -> None:
    """Decompressed copy of ``src`` at ``dst``, written crash-safely
    (:func:`repl_mm.utils.atomic_write.atomic_write`: temporary file, fsync, atomic rename)."""
    from ..utils.atomic_write import atomic_write

    def write(out):
        with _open(src) as f:
            shutil.copyfileobj(f, out, 1 << 20)

    atomic_write(dst, write)


def prepare(src: Optional[str] = None, dst: str = DEFAULT_DATA_ROOT, force: bool = False,
            log=print) -> Dict[str, int]:
    """Checks the four files and writes them uncompressed under ``dst`` for mmpretrain.

    Args:
        src (str, optional): folder with the files (``.gz`` or not); Debian's by default.
        dst (str): the configs' ``data_root``. Created if missing.
        force (bool): replace files in ``dst`` that differ from the source. Without it a
            differing file stops the tool (it is never overwritten).
        log (callable): where progress lines go.

    Returns:
        dict: split -> number of images.

    Raises:
        IdxFileError: a missing or malformed file, ``dst`` inside ``src``, or a differing
            file in ``dst`` without ``force``.
    """
    folder = find_source(src)
    if osp.realpath(dst) == osp.realpath(folder):
        raise IdxFileError(f'--dst {dst} is the source folder {folder}: choose another folder '
                           f'(the originals are never modified)')
    counts = {}
    sources = {}
    for split, (img_name, lbl_name) in FILES.items():
        img, lbl = _locate(folder, img_name), _locate(folder, lbl_name)
        counts[split] = check_pair(img, lbl, split)
        sources[img_name], sources[lbl_name] = img, lbl
        if counts[split] != EXPECTED_COUNTS[split]:
            log(f'warning: {split}: {counts[split]} images, the official release has '
                f'{EXPECTED_COUNTS[split]}')
    os.makedirs(dst, exist_ok=True)
    for name, path in sources.items():
        target = osp.join(dst, name)
        if osp.islink(target) or osp.exists(target):
            if osp.realpath(target) == osp.realpath(path):
                raise IdxFileError(f'{target} is the source file itself: choose another --dst')
            if _digest(target) == _digest(path):
                log(f'{target}: up to date')
                continue
            if not force:
                raise IdxFileError(f'{target} exists and differs from {path}: move it away or '
                                   f'pass --force to replace it')
            if osp.islink(target):
                os.remove(target)  # replace the link itself, never what it points to
        _write_uncompressed(path, target)
        log(f'{target}: written from {path}')
    return counts


def write_idx(path: str, array: np.ndarray, labels: bool = False,
              compress: Optional[bool] = None) -> None:
    """Writes ``array`` (``N x 28 x 28`` uint8 images, or ``N`` uint8 labels) as an idx file,
    gzip-compressed if ``path`` ends in ``.gz`` (tests and tiny sets)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if labels:
        header = struct.pack('>II', _LABEL_MAGIC, array.shape[0])
    else:
        header = struct.pack('>IIII', _IMAGE_MAGIC, *array.shape)
    compress = path.endswith('.gz') if compress is None else compress
    opener = gzip.open if compress else open
    with opener(path, 'wb') as f:
        f.write(header + array.tobytes())


def official_layout(root: str = DEFAULT_DATA_ROOT) -> Sequence[str]:
    """The four paths mmpretrain's ``FashionMNIST`` reads under ``root``."""
    return [osp.join(root, name) for pair in FILES.values() for name in pair]
