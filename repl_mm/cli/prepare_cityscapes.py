"""Prepare CityScapes for the DeepLab configs (Table XIV): write ``*_gtFine_labelTrainIds.png``.

    pip install cityscapesscripts
    python tools/dataset_converters/prepare_cityscapes.py data/cityscapes --nproc 8
    python tools/dataset_converters/prepare_cityscapes.py data/cityscapes --check      # verify only

``data/cityscapes`` holds the two official archives unpacked side by side
(``leftImg8bit_trainvaltest.zip`` -> ``leftImg8bit/{train,val,test}/CITY/*_leftImg8bit.png``,
``gtFine_trainvaltest.zip`` -> ``gtFine/{train,val,test}/CITY/*_gtFine_polygons.json``).
For every polygon file this renders the 19-class train-id label map (``255`` = ignore) next
to it with cityscapesscripts' ``json2labelImg(..., 'trainIds')`` -- the same conversion as
mmseg's ``tools/dataset_converters/cityscapes.py``, which is not part of the mmseg pip
package -- and writes ``{train,val,test}.txt`` image lists. ``--check`` then verifies that
every train / val image has its label map (what mmseg's ``CityscapesDataset`` reads).

``tools/dataset_converters/prepare_cityscapes.py`` and ``repl-mm-prepare-cityscapes`` run
:func:`main`. The conversion stays in this module rather than in ``repl_mm.datasets``, whose
``__init__`` needs mmpretrain (a segmentation-only environment has mmseg only).
"""
import argparse
import os
import os.path as osp
import sys
from functools import partial
from multiprocessing import Pool
from typing import Callable, List, Optional, Tuple

IMG_SUFFIX = '_leftImg8bit.png'
POLYGON_SUFFIX = '_gtFine_polygons.json'
LABEL_SUFFIX = '_gtFine_labelTrainIds.png'
SPLITS = ('train', 'val', 'test')


def _scan(folder: str, suffix: str) -> List[str]:
    """Paths (relative to ``folder``, sorted) of the files ending with ``suffix``."""
    found = []
    for dirpath, _, files in os.walk(folder):
        found += [osp.relpath(osp.join(dirpath, f), folder) for f in files if f.endswith(suffix)]
    return sorted(found)


def _to_label(json_file: str, json2label: Callable, overwrite: bool) -> bool:
    label_file = json_file[:-len(POLYGON_SUFFIX)] + LABEL_SUFFIX
    if not overwrite and osp.exists(label_file):
        return False
    json2label(json_file, label_file, 'trainIds')
    return True


def convert(root: str, nproc: int = 1, overwrite: bool = False,
            json2label: Optional[Callable] = None) -> Tuple[int, int]:
    """Renders the train-id label maps and writes the split lists.

    Args:
        root (str): the CityScapes folder (with ``gtFine/``).
        nproc (int): worker processes.
        overwrite (bool): re-render label maps that exist already.
        json2label (callable, optional): ``f(json_file, label_file, 'trainIds')``; default
            cityscapesscripts' ``json2labelImg``.

    Returns:
        tuple: ``(number of polygon files, number of label maps written)``.
    """
    if json2label is None:
        try:
            from cityscapesscripts.preparation.json2labelImg import json2labelImg
        except ImportError:
            raise SystemExit('cityscapesscripts is needed to render the label maps: '
                             'pip install cityscapesscripts') from None
        json2label = json2labelImg
    gt_dir = osp.join(root, 'gtFine')
    if not osp.isdir(gt_dir):
        raise SystemExit(f'{gt_dir} not found: unpack gtFine_trainvaltest.zip into {root}')
    polygons = [osp.join(gt_dir, p) for p in _scan(gt_dir, POLYGON_SUFFIX)]
    work = partial(_to_label, json2label=json2label, overwrite=overwrite)
    if nproc > 1:
        with Pool(nproc) as pool:
            written = sum(pool.map(work, polygons, chunksize=16))
    else:
        written = sum(map(work, polygons))
    for split in SPLITS:
        names = [p[:-len(POLYGON_SUFFIX)] for p in _scan(osp.join(gt_dir, split), POLYGON_SUFFIX)]
        with open(osp.join(root, f'{split}.txt'), 'w') as f:
            f.writelines(n + '\n' for n in names)
    return len(polygons), written


def check(root: str, splits=('train', 'val')) -> List[str]:
    """Problems of the layout mmseg's ``CityscapesDataset`` reads (empty list: all good).

    Every ``leftImg8bit/{split}/CITY/X_leftImg8bit.png`` needs
    ``gtFine/{split}/CITY/X_gtFine_labelTrainIds.png``.
    """
    problems = []
    for split in splits:
        img_dir = osp.join(root, 'leftImg8bit', split)
        if not osp.isdir(img_dir):
            problems.append(f'{img_dir} is missing')
            continue
        images = _scan(img_dir, IMG_SUFFIX)
        if not images:
            problems.append(f'{img_dir} holds no *{IMG_SUFFIX}')
        for img in images:
            label = osp.join(root, 'gtFine', split, img[:-len(IMG_SUFFIX)] + LABEL_SUFFIX)
            if not osp.exists(label):
                problems.append(f'{label} is missing (for {osp.join(img_dir, img)})')
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='CityScapes folder with leftImg8bit/ and gtFine/')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--overwrite', action='store_true', help='re-render existing maps')
    parser.add_argument('--check', action='store_true', help='only verify the layout')
    args = parser.parse_args(argv)
    if not args.check:
        total, written = convert(args.root, args.nproc, args.overwrite)
        print(f'{total} polygon files, {written} label maps written')
    problems = check(args.root)
    for p in problems[:20]:
        print(p)
    if problems:
        print(f'{len(problems)} problems')
        return 1
    print('layout OK: every train/val image has its *_gtFine_labelTrainIds.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
