"""Check a config's data before anything heavy starts (issue 29).

A missing or misplaced dataset used to surface as hundreds of lines (config dump, one
traceback per rank, torchrun's ``ChildFailedError``) after the model was built. This module
finds it first and says, in one block of a few lines per data root: what is missing or wrong
(full path), the layout expected there (short), the config keys that point there with a ready
``--cfg-options`` example, and the prepare script / docs section that fixes it.

It walks the datasets of ``train_dataloader`` / ``val_dataloader`` / ``test_dataloader``
(through wrappers: ``RepeatDataset``, ``ConcatDataset``, ``ClassBalancedDataset``, ... -- any
dict with ``dataset`` / ``datasets``), the evaluators' ``ann_file`` and the language model's
``model.vocab_from``, and resolves ``data_root`` + ``ann_file`` + ``data_prefix`` as each
toolbox does (mmengine's ``BaseDataset._join_prefix``; mmpretrain's ``ImageNet`` /
``CustomDataset`` split and folder forms, ``CIFAR10``, ``MNIST`` / ``FashionMNIST``; mmdet's
``CocoDataset``; mmseg's ``CityscapesDataset`` / ``BaseSegDataset``; repl_mm's ``SVHN``,
``STL10``, ``WikiText2``, ``DigitsDataset``). Unknown dataset types and non-local paths
(``s3://`` ...) are not checked (no refusal of data this module cannot see).

Besides presence it catches what is cheap to see (item 3 of the issue): an empty folder or
file, a COCO annotation file of another task (captions, keypoints-only, panoptic), images
without labels (CityScapes label maps not rendered, an ImageNet split without class folders
or ``meta/<split>.txt``), a class count different from the head's ``num_classes``, and
mmpretrain 1.2.0's ``MNIST`` / ``FashionMNIST`` with ``split='test'`` but ``test_mode=False``
(which loads the *training* files).

Standard library and ``mmengine.config`` only (no torch, no toolbox import), so the tools
and launchers run it first: ``python repl_mm/datasets/check.py {train,test,all} CONFIG
[tool args]`` (the shell launchers, before torchrun / srun spawn workers), and
``tools/train.py`` / ``tools/test.py`` / ``tools/multi_seed.py`` load this file by path
(:func:`precheck`) before they import torch. ``--check-data`` checks and exits 0/1 without
training. ``REPL_MM_SKIP_DATA_CHECK=1`` skips the check (e.g. a submit node that does not
mount the data).
"""
import os
import sys

if __name__ == '__main__' and sys.path and \
        os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run by path: do not let repl_mm/datasets/* shadow top-level modules

import argparse  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from importlib.util import find_spec  # noqa: E402
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple  # noqa: E402

__all__ = ['Problem', 'check_config', 'check_cfg', 'format_problems', 'precheck',
           'precheck_configs', 'report', 'run', 'main']

SKIP_ENV = 'REPL_MM_SKIP_DATA_CHECK'
LOADERS = {
    'train': ('train_dataloader', 'val_dataloader'),
    'test': ('test_dataloader', ),
    'all': ('train_dataloader', 'val_dataloader', 'test_dataloader'),
    'model': (),  # what building the model reads (model.vocab_from): the benchmark tools
}
EVALUATORS = {'train_dataloader': None, 'val_dataloader': 'val_evaluator',
              'test_dataloader': 'test_evaluator'}
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: mmpretrain 1.2.0 ``ImageNet.IMG_EXTENSIONS`` / ``CustomDataset`` default extensions.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
#: how many classes a dataset type has when the config gives no ``metainfo.classes``
DEFAULT_CLASSES = {'CIFAR10': 10, 'CIFAR100': 100, 'MNIST': 10, 'FashionMNIST': 10,
                   'SVHN': 10, 'STL10': 10, 'DigitsDataset': 10, 'ImageNet': 1000,
                   'CocoDataset': 80, 'CityscapesDataset': 19}

#: per dataset type: (name, docs / prepare hint)
GUIDES = {
    'CocoDataset': ('COCO', 'docs/detection.md, section "COCO layout"'),
    'CityscapesDataset': ('CityScapes', 'docs/segmentation.md, section "Data: CityScapes" '
                          '(python tools/dataset_converters/prepare_cityscapes.py DATA_ROOT)'),
    'BaseSegDataset': ('segmentation data', 'mmseg\'s dataset docs (img_dir / ann_dir pairs)'),
    'ImageNet': ('ImageNet', 'docs/classification.md, section "ImageNet"'),
    'CustomDataset': ('image folder', 'docs/classification.md, section "Data layouts" '
                      '(one sub-folder per class, or ann_file lines "<path> <label>")'),
    'CIFAR10': ('CIFAR-10', 'docs/classification.md, section "CIFAR-10" '
                '(unpack cifar-10-python.tar.gz)'),
    'CIFAR100': ('CIFAR-100', 'unpack cifar-100-python.tar.gz into DATA_ROOT'),
    'MNIST': ('MNIST', 'unpack the four *-ubyte.gz files of MNIST into DATA_ROOT'),
    'FashionMNIST': ('Fashion-MNIST', 'docs/classification.md, section "Fashion-MNIST" '
                     '(python tools/dataset_converters/prepare_fashion_mnist.py)'),
    'SVHN': ('SVHN', 'docs/classification.md, section "SVHN"'),
    'STL10': ('STL-10', 'docs/classification.md, section "STL-10"'),
    'WikiText2': ('WikiText-2', 'docs/language_model.md, section "Data" (unzip '
                  'wikitext-2-v1.zip)'),
    'DigitsDataset': ('scikit-learn digits', 'pip install scikit-learn (tools/install_env.sh '
                      'installs it)'),
}


class Problem(NamedTuple):
    """One thing wrong with the data of a config.

    Attributes:
        kind (str): ``'missing'`` (a path that does not exist), ``'wrong'`` (exists but is
            empty, of another task or unlabelled), ``'classes'`` (the class count differs
            from the model's ``num_classes``) or ``'ok'`` (checked, fine).
        path (str): the full path concerned ('' when none, e.g. a missing Python package).
        what (str): one short sentence.
        dtype (str): the dataset type (``'CocoDataset'``).
        root (str): the data root as written in the config ('' when none).
        keys (tuple): ``(config key, value)`` pairs that point there.
        expected (tuple): entries of the expected layout, relative to ``root``.
    """
    kind: str
    path: str
    what: str
    dtype: str
    root: str = ''
    keys: Tuple[Tuple[str, str], ...] = ()
    expected: Tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------
# path helpers (mmengine.fileio.join_path / is_abs for local paths)

def _is_remote(path: str) -> bool:
    return '://' in str(path)


def _join(root: str, path: str) -> str:
    """``mmengine.dataset.BaseDataset._join_prefix``: relative paths go under ``data_root``."""
    if not path:
        return root
    if osp.isabs(path) or not root:
        return path
    return osp.join(root, path)


def _full(path: str) -> str:
    return osp.abspath(osp.expanduser(path)) + ('/' if str(path).endswith('/') else '')


def _dir(path: str) -> str:
    return path.rstrip('/') + '/'


def _nonempty_dir(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return any(True for _ in it)
    except OSError:
        return False


def _type_name(ds: dict) -> str:
    t = ds.get('type', '')
    name = getattr(t, '__name__', str(t))
    return name.split('.')[-1]


def _prefix(ds: dict, *names: str) -> str:
    """The image prefix of ``data_prefix`` (a str or a dict with one of ``names``)."""
    prefix = ds.get('data_prefix', '')
    if isinstance(prefix, str):
        return prefix
    if isinstance(prefix, dict):
        for n in names:
            if prefix.get(n):
                return prefix[n]
    return ''


class _Ctx:
    """Collects the problems of one dataset dict (at config key ``key``)."""

    def __init__(self, key: str, ds: dict, dtype: str) -> None:
        self.key, self.ds, self.dtype = key, ds, dtype
        self.root = ds.get('data_root', '') or ''
        self.problems: List[Problem] = []
        self.expected: List[str] = []
        self.dry = False  # the root is missing: only collect the expected layout

    def rel(self, path: str) -> str:
        if self.root and path.startswith(self.root):
            return path[len(self.root):].lstrip('/') or '.'
        return path

    def keys(self, *fields: str) -> Tuple[Tuple[str, str], ...]:
        out = []
        for f in ('data_root', ) + fields:
            value = self.ds
            for part in f.split('.'):
                value = value.get(part) if isinstance(value, dict) else None
            if value not in (None, '') and isinstance(value, str):
                out.append((f'{self.key}.{f}', value))
        return tuple(out)

    def add(self, kind: str, path: str, what: str, *fields: str) -> None:
        self.problems.append(Problem(kind, _full(path) if path else '', what, self.dtype,
                                     self.root, self.keys(*fields)))

    def need_root(self) -> None:
        """A problem when ``data_root`` is set but not a non-empty folder; then the checks
        that follow only collect the expected layout (and return False)."""
        if not self.root or self.dry:
            return
        if not osp.isdir(self.root):
            self.add('missing', _dir(self.root), 'the data_root folder does not exist')
        elif not _nonempty_dir(self.root):
            self.add('wrong', _dir(self.root), 'the data_root folder is empty')
        else:
            return
        self.dry = True

    def need_file(self, path: str, *fields: str) -> bool:
        self.expected.append(self.rel(path))
        if self.dry:
            return False
        if not osp.isfile(path):
            self.add('missing', path, 'not found' if not osp.isdir(path) else
                     'is a folder, a file was expected', *fields)
            return False
        if osp.getsize(path) == 0:
            self.add('wrong', path, 'the file is empty', *fields)
            return False
        return True

    def need_dir(self, path: str, *fields: str, what: str = '') -> bool:
        self.expected.append(self.rel(path).rstrip('/') + '/' + (f' ({what})' if what else ''))
        if self.dry:
            return False
        if not osp.isdir(path):
            self.add('missing', path.rstrip('/') + '/', 'folder not found', *fields)
            return False
        if not _nonempty_dir(path):
            self.add('wrong', path.rstrip('/') + '/', 'the folder is empty', *fields)
            return False
        return True


# ---------------------------------------------------------------------------------------
# per dataset type

def _check_coco(c: _Ctx) -> Optional[int]:
    c.need_root()
    ann = _join(c.root, c.ds.get('ann_file', ''))
    img_dir = _join(c.root, _prefix(c.ds, 'img', 'img_path'))
    ok_ann = c.need_file(ann, 'ann_file')
    ok_img = c.need_dir(img_dir, 'data_prefix.img', what='images')
    if not ok_ann:
        return None
    info = _coco_summary(ann)
    if info is None:
        c.add('wrong', ann, 'not a COCO json file (no "images" / "annotations")', 'ann_file')
        return None
    if info['task']:
        c.add('wrong', ann, f'a COCO {info["task"]} file, not object detection (instances_*'
              '.json with "bbox" annotations)', 'ann_file')
        return None
    meta_classes = (c.ds.get('metainfo') or {}).get('classes')
    if info['categories'] is not None:
        names = info['categories']
        wanted = list(meta_classes) if meta_classes else None
        if wanted is not None:
            unknown = [n for n in wanted if n not in names]
            if len(unknown) == len(wanted):
                c.add('wrong', ann, f'none of metainfo.classes {tuple(wanted)[:4]}... is a '
                      f'category of the file ({tuple(names)[:4]}...)', 'ann_file')
        elif c.dtype == 'CocoDataset' and len(names) != 80 and not set(names) & _COCO_SAMPLE:
            c.add('wrong', ann, f'its {len(names)} categories ({", ".join(names[:3])}...) are '
                  'not COCO\'s; set metainfo=dict(classes=(...)) in the dataset', 'ann_file')
    if ok_img and info['file_names']:
        absent = [f for f in info['file_names'] if not osp.exists(osp.join(img_dir, f))]
        if len(absent) == len(info['file_names']):
            c.add('wrong', osp.join(img_dir, absent[0]),
                  f'image named in {osp.basename(ann)} not found (images under another '
                  'data_prefix.img?)', 'data_prefix.img')
    return len(meta_classes) if meta_classes else DEFAULT_CLASSES['CocoDataset']


#: a few COCO category names: a file that has none of them is of another label set
_COCO_SAMPLE = {'person', 'car', 'dog', 'cat', 'bicycle', 'chair', 'bottle', 'airplane'}


def _coco_summary(path: str, full_limit: int = 64 << 20) -> Optional[dict]:
    """``{'task': '' | 'captions' | ..., 'categories': [names] | None, 'file_names': [...]}``
    from a COCO json; files over ``full_limit`` bytes are only sampled (head and tail)."""
    size = osp.getsize(path)
    if size <= full_limit:
        try:
            with open(path, 'rb') as f:
                data = json.load(f)
        except (ValueError, UnicodeDecodeError, OSError):
            return None
        if not isinstance(data, dict) or 'images' not in data:
            return None
        anns = data.get('annotations') or []
        cats = data.get('categories')
        first = anns[0] if anns and isinstance(anns[0], dict) else {}
        task = ''
        if 'segments_info' in first:
            task = 'panoptic'
        elif 'caption' in first:
            task = 'captions'
        elif 'keypoints' in first:
            task = 'keypoints'
        elif anns and 'bbox' not in first:
            task = 'annotation (no "bbox")'
        elif cats is None and anns:
            task = 'annotation (no "categories")'
        names = [c.get('name', '') for c in cats if isinstance(c, dict)] if cats else []
        files = [i.get('file_name', '') for i in data['images'][:3] if isinstance(i, dict)]
        return dict(task=task, categories=names if cats is not None else None,
                    file_names=[f for f in files if f])
    with open(path, 'rb') as f:
        head = f.read(1 << 20).decode('utf-8', 'replace')
        f.seek(max(0, size - (4 << 20)))
        tail = f.read().decode('utf-8', 'replace')
    if not head.lstrip().startswith('{') or '"images"' not in head + tail:
        return None
    task = ''
    if '"segments_info"' in tail:
        task = 'panoptic'
    elif '"caption"' in tail and '"bbox"' not in tail:
        task = 'captions'
    elif '"keypoints"' in tail:
        task = 'keypoints'
    names = None
    at = tail.rfind('"categories"')
    if at >= 0:
        names = re.findall(r'"name"\s*:\s*"([^"]*)"', tail[at:])
    files = re.findall(r'"file_name"\s*:\s*"([^"]+)"', head)[:3]
    return dict(task=task, categories=names, file_names=files)


def _check_seg(c: _Ctx) -> Optional[int]:
    c.need_root()
    img_suffix = c.ds.get('img_suffix', '_leftImg8bit.png' if c.dtype == 'CityscapesDataset'
                          else '.jpg')
    seg_suffix = c.ds.get('seg_map_suffix', '_gtFine_labelTrainIds.png'
                          if c.dtype == 'CityscapesDataset' else '.png')
    prefix = c.ds.get('data_prefix')
    # mmseg's default data_prefix has seg_map_path=''; a dict without it means no labels
    labelled = not isinstance(prefix, dict) or 'seg_map_path' in prefix
    img_dir = _join(c.root, _prefix(c.ds, 'img_path'))
    seg_dir = _join(c.root, _prefix(c.ds, 'seg_map_path'))
    ok_img = c.need_dir(img_dir, 'data_prefix.img_path', what=f'*{img_suffix}')
    ok_seg = c.need_dir(seg_dir, 'data_prefix.seg_map_path', what=f'*{seg_suffix}') \
        if labelled else True
    ann = _join(c.root, c.ds['ann_file']) if c.ds.get('ann_file') else ''
    if ann and not c.need_file(ann, 'ann_file'):
        return None
    if not (ok_img and ok_seg):
        return None
    if ann:  # the image list: names without the suffix, one a line
        with open(ann, encoding='utf-8', errors='replace') as f:
            imgs = [ln.strip() + img_suffix for ln, _ in zip(f, range(200)) if ln.strip()]
        absent = [i for i in imgs if not osp.isfile(osp.join(img_dir, i))]
        if absent:
            c.add('wrong', osp.join(img_dir, absent[0]), f'{len(absent)} of the first '
                  f'{len(imgs)} images listed in {osp.basename(ann)} not found',
                  'data_prefix.img_path')
    else:
        imgs = [osp.relpath(osp.join(d, f), img_dir) for d, _, fs in os.walk(img_dir)
                for f in fs if f.endswith(img_suffix)]
    if not labelled:
        return DEFAULT_CLASSES.get(c.dtype)
    if not imgs:
        c.add('wrong', _dir(img_dir), f'no *{img_suffix} image in the folder',
              'data_prefix.img_path')
        return None
    unlabelled = [i for i in imgs
                  if not osp.isfile(osp.join(seg_dir, i[:-len(img_suffix)] + seg_suffix))]
    if unlabelled:
        first = osp.join(seg_dir, unlabelled[0][:-len(img_suffix)] + seg_suffix)
        hint = ''
        if c.dtype == 'CityscapesDataset' and seg_suffix.endswith('labelTrainIds.png'):
            hint = '; render them: python tools/dataset_converters/prepare_cityscapes.py ' \
                   + (c.root or 'DATA_ROOT')
        c.add('wrong', first, f'{len(unlabelled)} of {len(imgs)} images have no label map '
              f'*{seg_suffix}{hint}', 'data_prefix.seg_map_path')
    return DEFAULT_CLASSES.get(c.dtype)


def _class_folders(path: str) -> List[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir())
    except OSError:
        return []


def _check_custom(c: _Ctx) -> Optional[int]:
    """mmpretrain ``CustomDataset`` / ``ImageNet``: ann-file form or class-folder form."""
    c.need_root()
    ds, split = c.ds, c.ds.get('split', '')
    prefix = _prefix(ds, 'img_path')
    ann_file = ds.get('ann_file', '')
    with_label = ds.get('with_label', split != 'test')
    if c.dtype == 'ImageNet' and split:
        prefix = prefix or split
        if not ann_file and osp.isfile(osp.join(c.root, 'meta', f'{split}.txt')):
            ann_file = osp.join('meta', f'{split}.txt')
    img_dir = _join(c.root, prefix)
    meta_classes = (ds.get('metainfo') or {}).get('classes') or ds.get('classes')
    n_classes = len(meta_classes) if isinstance(meta_classes, (list, tuple)) else \
        DEFAULT_CLASSES.get(c.dtype)
    if ann_file:
        ann = _join(c.root, ann_file)
        if not c.need_file(ann, 'ann_file'):
            return n_classes
        c.need_dir(img_dir, 'data_prefix', what='images')
        with open(ann, encoding='utf-8', errors='replace') as f:
            lines = [ln.split() for ln, _ in zip(f, range(200)) if ln.strip()]
        if not lines:
            c.add('wrong', ann, 'the annotation file has no line', 'ann_file')
        elif with_label and not all(len(p) >= 2 and p[-1].lstrip('-').isdigit()
                                    for p in lines):
            c.add('wrong', ann, 'lines must read "<image path> <class index>" (an annotation '
                  'file of another format or task?)', 'ann_file')
        elif with_label and n_classes and max(int(p[-1]) for p in lines) >= n_classes:
            c.add('wrong', ann, f'class index {max(int(p[-1]) for p in lines)} in its first '
                  f'lines, but {c.dtype} has {n_classes} classes (0-{n_classes - 1})',
                  'ann_file')
        elif osp.isdir(img_dir):
            names = [' '.join(p[:-1]) if with_label else ' '.join(p) for p in lines[:3]]
            if not any(osp.exists(osp.join(img_dir, n)) for n in names):
                c.add('wrong', osp.join(img_dir, names[0]), f'image named in '
                      f'{osp.basename(ann)} not found (another data_prefix?)', 'data_prefix')
        return n_classes
    # folder form: the labels come from the class sub-folders
    what = 'images' if not with_label else '<class>/*.jpg' + (
        f', or flat with meta/{split}.txt' if c.dtype == 'ImageNet' and split else '')
    if not c.need_dir(img_dir, 'data_prefix', what=what):
        return n_classes
    if with_label:
        folders = _class_folders(img_dir)
        if not folders:
            hint = (f' or meta/{split}.txt ("<file> <class index>" lines)'
                    if c.dtype == 'ImageNet' and split else ' or an ann_file')
            c.add('wrong', _dir(img_dir), f'images without labels: no class sub-folder{hint}',
                  'data_prefix')
            return n_classes
        if meta_classes is None and c.dtype != 'ImageNet':
            n_classes = len(folders)
        elif c.dtype == 'ImageNet' and meta_classes is None and len(folders) != 1000:
            c.add('wrong', _dir(img_dir), f'{len(folders)} class folders, ImageNet-1k has 1000',
                  'data_prefix')
    return n_classes


def _check_files(c: _Ctx, files: Sequence[str], fields: Sequence[str] = ()) -> None:
    c.need_root()
    base = _join(c.root, _prefix(c.ds, 'root', 'img_path'))
    for f in files:
        c.need_file(osp.join(base, f), *fields)


def _check_cifar(c: _Ctx) -> Optional[int]:
    if c.ds.get('download', True):
        return None if not c.root else DEFAULT_CLASSES[c.dtype]  # mmpretrain downloads it
    if c.dtype == 'CIFAR10':
        folder, files = 'cifar-10-batches-py', [f'data_batch_{i}' for i in range(1, 6)] + [
            'test_batch', 'batches.meta']
    else:
        folder, files = 'cifar-100-python', ['train', 'test', 'meta']
    _check_files(c, [f'{folder}/{f}' for f in files])
    return DEFAULT_CLASSES[c.dtype]


MNIST_FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
               't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def _check_mnist(c: _Ctx) -> Optional[int]:
    split, test_mode = c.ds.get('split', 'train'), bool(c.ds.get('test_mode', False))
    if split == 'test' and not test_mode:
        # mmpretrain 1.2.0 MNIST.load_data_list picks the files by test_mode, not split
        c.add('wrong', '', f"split='test' with test_mode=False loads the TRAINING files in "
              f"mmpretrain's {c.dtype}: set {c.key}.test_mode=True")
    if not c.ds.get('download', True):
        _check_files(c, MNIST_FILES)  # _check_exists needs all four, extracted
    return DEFAULT_CLASSES[c.dtype]


#: the files repl_mm.datasets.SVHN / STL10 read per split (their ``_files()``)
SVHN_FILE = '{}_32x32.mat'
STL10_FILES = ('stl10_binary/{}_X.bin', 'stl10_binary/{}_y.bin')
WIKITEXT2_FILE = 'wiki.{}.tokens'


def _check_svhn_stl(c: _Ctx) -> Optional[int]:
    split = c.ds.get('split', 'train')
    files = [SVHN_FILE.format(split)] if c.dtype == 'SVHN' else [
        f.format(split) for f in STL10_FILES]
    if not c.root:
        c.add('missing', '', 'data_root is not set', 'data_root')
        return None
    _check_files(c, files)
    return DEFAULT_CLASSES[c.dtype]


def _check_wikitext2(c: _Ctx) -> None:
    c.need_root()
    split = {'val': 'valid'}.get(c.ds.get('split', 'train'), c.ds.get('split', 'train'))
    for s in dict.fromkeys(('train', split)):
        path = osp.join(c.root, WIKITEXT2_FILE.format(s))
        if not osp.isfile(path) and osp.isfile(osp.join(c.root, f'wiki.{s}.raw')):
            c.expected.append(c.rel(path))
            c.add('wrong', path, 'not found, but wiki.*.raw are: that is the raw release; '
                  'the configs read the word-level wikitext-2-v1.zip')
        else:
            c.need_file(path)


def _check_digits(c: _Ctx) -> Optional[int]:
    if find_spec('sklearn') is None:
        c.add('missing', '', 'DigitsDataset reads scikit-learn\'s bundled digits: the '
              'package sklearn is not installed')
    return DEFAULT_CLASSES['DigitsDataset']


CHECKERS = {
    'CocoDataset': 'coco', 'CityscapesDataset': 'seg', 'BaseSegDataset': 'seg',
    'ImageNet': 'custom', 'CustomDataset': 'custom', 'ImageNet21k': 'custom',
    'CIFAR10': 'cifar', 'CIFAR100': 'cifar', 'MNIST': 'mnist', 'FashionMNIST': 'mnist',
    'SVHN': 'svhn_stl', 'STL10': 'svhn_stl', 'WikiText2': 'wikitext2',
    'DigitsDataset': 'digits',
}


def _check_dataset(key: str, ds: dict, model_classes: Optional[Tuple[str, int]],
                   dry: bool = False) -> List[Problem]:
    dtype = _type_name(ds)
    kind = CHECKERS.get(dtype)
    if kind is None:
        return []
    roots = [ds.get('data_root', '') or '', str(ds.get('ann_file', '') or ''),
             str(_prefix(ds, 'img', 'img_path', 'root'))]
    if any(_is_remote(r) for r in roots) or ds.get('backend_args'):
        return []  # not a local path: not checked here
    c = _Ctx(key, ds, dtype)
    c.dry = dry  # a loader the tool does not use: only its layout and keys
    if kind == 'coco':
        n = _check_coco(c)
    elif kind == 'seg':
        n = _check_seg(c)
    elif kind == 'custom':
        n = _check_custom(c)
    elif kind == 'cifar':
        n = _check_cifar(c)
    elif kind == 'mnist':
        n = _check_mnist(c)
    elif kind == 'svhn_stl':
        n = _check_svhn_stl(c)
    elif kind == 'wikitext2':
        n = _check_wikitext2(c)
    else:
        n = _check_digits(c)
    if n is not None and model_classes is not None and n != model_classes[1] \
            and not any(p.kind == 'missing' for p in c.problems):
        head, m = model_classes
        c.problems.append(Problem('classes', '', f'{dtype} has {n} classes but the model\'s '
                                  f'num_classes is {m} ({head})', dtype, c.root,
                                  ((head, str(n)), )))
    expected = tuple(dict.fromkeys(c.expected))
    if dry:
        c.problems = []
    return [p._replace(expected=expected) for p in c.problems] or (
        [Problem('ok', '', '', dtype, c.root, c.keys(), expected)])


def iter_datasets(ds, key: str) -> Iterator[Tuple[str, dict]]:
    """Yields ``(config key, dataset dict)`` of ``ds`` and every dataset inside a wrapper."""
    if not isinstance(ds, dict):
        return
    inner = ds.get('dataset')
    many = ds.get('datasets')
    if isinstance(inner, dict):
        yield from iter_datasets(inner, f'{key}.dataset')
    elif isinstance(many, (list, tuple)):
        for i, d in enumerate(many):
            yield from iter_datasets(d, f'{key}.datasets.{i}')
    else:
        yield key, ds


def _model_classes(model) -> Optional[Tuple[str, int]]:
    """``(config key, number)`` of the classes the model predicts (head / bbox_head /
    decode_head)."""
    if not isinstance(model, dict):
        return None
    for head in ('head', 'bbox_head', 'decode_head'):
        h = model.get(head)
        if isinstance(h, dict) and isinstance(h.get('num_classes'), int) \
                and not isinstance(h.get('num_classes'), bool):
            return f'model.{head}.num_classes', h['num_classes']
    return None


def check_cfg(cfg, scope: str = 'train', no_validate: bool = False) -> List[Problem]:
    """The problems of the data that ``cfg`` (an mmengine ``Config`` or dict) uses.

    Args:
        cfg: the loaded config (``--cfg-options`` applied).
        scope (str): ``'train'`` (train + val loaders, as ``tools/train.py`` uses them),
            ``'test'`` (test loader), ``'all'`` or ``'model'`` (no loader; only what
            building the model reads).
        no_validate (bool): ``tools/train.py --no-validate``: the val loader is not used.

    Returns:
        list[Problem]: also entries of kind ``'ok'`` (a dataset checked without a problem),
        which :func:`format_problems` uses to list the keys of a shared data root.
    """
    loaders = [n for n in LOADERS[scope] if not (no_validate and n == 'val_dataloader')]
    model = cfg.get('model')
    n_cls = _model_classes(model)
    out: List[Problem] = []
    for name in LOADERS['all']:
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        for key, ds in iter_datasets(loader.get('dataset'), f'{name}.dataset'):
            # a loader the tool does not use: only its layout and keys, for the message
            out += _check_dataset(key, ds, n_cls, dry=name not in loaders)
        evaluators = cfg.get(EVALUATORS[name]) if EVALUATORS[name] else None
        for i, ev in enumerate(evaluators if isinstance(evaluators, (list, tuple))
                               else [evaluators]):
            if isinstance(ev, dict) and isinstance(ev.get('ann_file'), str) \
                    and ev['ann_file'] and not _is_remote(ev['ann_file']):
                key = EVALUATORS[name] + (f'.{i}' if isinstance(evaluators, (list, tuple))
                                          else '') + '.ann_file'
                kind = 'ok' if name not in loaders or osp.isfile(ev['ann_file']) else 'missing'
                out.append(Problem(kind, _full(ev['ann_file']), 'not found (the evaluator\'s '
                                   'ground truth)', _type_name(ev), '', ((key, ev['ann_file']), )))
    vocab = model.get('vocab_from') if isinstance(model, dict) else None
    if isinstance(vocab, str) and vocab and not _is_remote(vocab):
        kind = 'ok' if osp.isfile(vocab) else 'missing'
        out.append(Problem(kind, _full(vocab), 'not found (the training text that sizes the '
                           'vocabulary)', 'WikiText2', '', (('model.vocab_from', vocab), )))
    return out


# ---------------------------------------------------------------------------------------
# report

def _env_roots(config: str) -> Dict[str, str]:
    """``{default value: ENV}`` for the ``{{$ENV:default}}`` roots in ``config`` and its local
    ``_base_`` files (so the message can offer ``COCO_ROOT=...``)."""
    out: Dict[str, str] = {}
    seen, todo = set(), [osp.abspath(config)]
    while todo:
        path = todo.pop()
        if path in seen or not osp.isfile(path):
            continue
        seen.add(path)
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        for env, default in re.findall(r"\{\{\s*\$(\w+)\s*:([^}]*)\}\}", text):
            out.setdefault(default.strip().strip('\'"'), env)
        for base in re.findall(r"['\"](\.{1,2}/[^'\"]+\.py)['\"]", text):
            todo.append(osp.normpath(osp.join(osp.dirname(path), base)))
    return out


def _placeholder(root: str) -> str:
    name = osp.basename(root.rstrip('/')) or 'data'
    return f'/path/to/{name}' + ('/' if root.endswith('/') else '')


def _group(problems: Sequence[Problem]) -> List[List[Problem]]:
    """Problems (and ``ok`` entries) grouped by data root; an evaluator's ann_file or a
    vocabulary file joins the group whose root holds it."""
    groups: Dict[str, List[Problem]] = {}
    loose: List[Problem] = []
    for p in problems:
        if p.root:
            groups.setdefault(osp.normpath(p.root), []).append(p)
        else:
            loose.append(p)
    for p in loose:
        value = p.keys[0][1] if p.keys else ''
        home = next((r for r in groups if value and osp.normpath(value).startswith(r + os.sep)),
                    None)
        groups.setdefault(home if home is not None else f'\0{p.dtype}{value}', []).append(p)
    return [g for g in groups.values() if any(p.kind != 'ok' for p in g)]


def format_problems(problems: Sequence[Problem], config: str,
                    check_cmd: Optional[str] = None) -> str:
    """A few lines per data root with a problem; '' when there is none."""
    blocks = []
    envs = _env_roots(config) if config else {}
    check_cmd = check_cmd or f'python tools/train.py {config} --check-data'
    for group in _group(problems):
        bad = [p for p in group if p.kind != 'ok']
        gone = [p.path for p in bad if p.kind == 'missing' and p.path.endswith('/')]
        bad = [p for p in bad if not any(p.path != g and p.path.startswith(g) for g in gone)]
        dtype = next((p.dtype for p in group if p.dtype in GUIDES), bad[0].dtype)
        title, guide = GUIDES.get(dtype, (dtype, 'the dataset\'s documentation'))
        root = next((p.root for p in group if p.root), '')
        state = 'not found' if all(p.kind == 'missing' for p in bad) else 'not usable'
        if all(p.kind == 'classes' for p in bad):
            state = 'does not fit the model'
        lines = [f'[data check] {config}: {title} data ({dtype}) {state}:']
        shown = list(dict.fromkeys(
            f'{p.path}: {p.what}' if p.path else p.what for p in bad))
        for s in shown[:3]:
            lines.append(f'  {"missing" if state == "not found" else "problem"}: {s}')
        if len(shown) > 3:
            lines.append(f'  ... and {len(shown) - 3} more under the same root')
        if state == 'does not fit the model':
            fix = ' '.join(dict.fromkeys(f'{k}={v}' for p in bad for k, v in p.keys))
            lines.append(f'  fix: --cfg-options {fix} (or the dataset\'s metainfo.classes); '
                         f'check again without training: {check_cmd}')
            blocks.append('\n'.join(lines))
            continue
        expected = list(dict.fromkeys(e for p in group for e in p.expected))
        if expected:
            lines.append(f'  expected: {root or "."}'
                         + ('' if root.endswith('/') or not root else '/')
                         + ' with ' + ', '.join(expected[:6])
                         + (' ...' if len(expected) > 6 else ''))
        keys = list(dict.fromkeys(k for p in group if p.kind != 'classes' for k in p.keys))
        if keys:
            opts = []
            for k, v in keys:
                new = (_placeholder(root) + v[len(root):]) if root and v.startswith(root) \
                    else (_placeholder(v) if k.endswith('data_root') else
                          '/path/to/' + osp.basename(v.rstrip('/')))
                opts.append(f'{k}={new}')
            env = envs.get(root) if root else None
            env_hint = f'{env}={_placeholder(root)} (environment) or ' if env else ''
            lines.append(f'  set by: {", ".join(k for k, _ in keys)}')
            lines.append(f'  data elsewhere: {env_hint}--cfg-options {" ".join(opts)}')
        lines.append(f'  fix: {guide}; check again without training: {check_cmd}')
        blocks.append('\n'.join(lines))
    return '\n'.join(blocks)


# ---------------------------------------------------------------------------------------
# entry points

def load_cfg(config: str, cfg_options: Optional[dict] = None):
    """The config as the tools see it (``--cfg-options`` merged), without importing its
    ``custom_imports`` (no torch / toolbox import)."""
    from mmengine.config import Config
    with warnings.catch_warnings():  # mmengine's pkg_resources import: not the user's concern
        warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
        cfg = Config.fromfile(config, import_custom_modules=False)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def check_config(config: str, cfg_options: Optional[dict] = None, scope: str = 'train',
                 no_validate: bool = False) -> List[Problem]:
    """:func:`check_cfg` of the config file ``config`` (with the ``ok`` entries; the run
    is fine when every entry is ``ok``)."""
    return check_cfg(load_cfg(config, cfg_options), scope, no_validate)


class _ArgError(Exception):
    pass


class _LenientParser(argparse.ArgumentParser):

    def error(self, message):
        raise _ArgError(message)


def _parse(argv: Sequence[str]):
    from mmengine.config import DictAction
    p = _LenientParser(add_help=False)
    p.add_argument('config')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--no-validate', action='store_true')
    p.add_argument('--check-data', action='store_true')
    p.add_argument('--launcher', default='none')
    # the value-taking options of tools/train.py, test.py and multi_seed.py, so that their
    # values are not taken for the config when they come first
    for opt in ('--work-dir', '--out', '--show-dir', '--wait-time', '--out-item', '--interval',
                '--local_rank', '--local-rank', '--nproc', '--master-port', '--digits'):
        p.add_argument(opt)
    p.add_argument('--resume', nargs='?', const='auto')
    for opt in ('--seeds', '--metrics'):
        p.add_argument(opt, nargs='+')
    args, _ = p.parse_known_args(list(argv))
    return args


def _rank() -> str:
    for env in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(env) not in (None, ''):
            return os.environ[env]
    return '0'


def run(scope: str, argv: Sequence[str], check_cmd: Optional[str] = None) -> Optional[int]:
    """Checks the data of the tool command line ``argv``; returns the exit code to stop with
    (1: a problem, printed on stderr by rank 0 only; 0: ``--check-data`` passed) or ``None``
    (go on). Never raises: a command line or config it cannot read is left to the tool."""
    if os.environ.get(SKIP_ENV, '') not in ('', '0'):
        return None
    try:
        args = _parse(argv)
    except (_ArgError, ImportError):
        return None  # the tool's own parser reports a bad command line
    return report(args.config, args.cfg_options, 'all' if args.check_data else scope,
                  args.no_validate, args.check_data, check_cmd)


def report(config: str, cfg_options: Optional[dict] = None, scope: str = 'train',
           no_validate: bool = False, check_data: bool = False,
           check_cmd: Optional[str] = None) -> Optional[int]:
    """:func:`run` for a parsed command line: prints the problems of ``config`` (rank 0)
    and returns 1, or 0 / ``None`` (fine, with / without ``check_data``)."""
    try:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file {config} not found')
        found = check_config(config, cfg_options, scope, no_validate)
        problems = [p for p in found if p.kind != 'ok']
    except Exception as e:  # the tool reports what keeps the config from loading
        if not check_data:
            return None
        if _rank() == '0':
            print(f'[data check] {config}: cannot check: {type(e).__name__}: '
                  f'{str(e).strip().splitlines()[0] if str(e).strip() else ""}',
                  file=sys.stderr, flush=True)
        return 1
    if problems:
        if _rank() == '0':
            print(format_problems(found, config, check_cmd), file=sys.stderr, flush=True)
        else:
            time.sleep(2)  # the other ranks stop too, after rank 0 has printed
        return 1
    if check_data:
        if _rank() == '0':
            print(f'[data check] {config}: the data of train/val/test is in place',
                  flush=True)
        return 0
    return None


def precheck(tool: str, argv: Optional[Sequence[str]] = None) -> None:
    """The pre-step of ``tools/train.py`` (``tool='train'``), ``tools/test.py`` (``'test'``)
    and ``tools/multi_seed.py`` (``'multi_seed'``): exits (``SystemExit``) with
    :func:`run`'s code when it returns one."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if tool == 'multi_seed':  # trains (train + val); with --test also tests each seed
        tool = 'all' if '--test' in argv else 'train'
    code = run(tool, argv)
    if code is not None:
        raise SystemExit(code)


def precheck_configs(configs: Sequence[Optional[str]], cfg_options=None,
                     scope: str = 'train') -> None:
    """:func:`report` for several configs (one block each), then ``SystemExit(1)`` if any
    has a problem: ``tools/analysis_tools/evidence.py`` before it measures and trains,
    ``benchmark.py`` (``scope='model'``) before it builds the models. ``cfg_options``: a
    dict (``DictAction``'s) or ``key=value`` strings; config names that are not files
    (presets) are skipped."""
    if os.environ.get(SKIP_ENV, '') not in ('', '0'):
        return
    if cfg_options and not isinstance(cfg_options, dict):
        try:
            cfg_options = _parse(['x', '--cfg-options', *cfg_options]).cfg_options
        except _ArgError:
            return
    codes = [report(c, cfg_options or None, scope) for c in configs if c and osp.isfile(c)]
    if any(code == 1 for code in codes):
        raise SystemExit(1)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python repl_mm/datasets/check.py {train,test,all} CONFIG [tool args]``: exit 1 on a
    problem, 0 otherwise (the launchers run it before torchrun / srun)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in LOADERS:
        print('usage: python repl_mm/datasets/check.py {train,test,all} CONFIG '
              '[--cfg-options k=v ...] [--no-validate] [--check-data]', file=sys.stderr)
        return 2
    code = run(argv[0], argv[1:])
    return code or 0


if __name__ == '__main__':
    sys.exit(main())
