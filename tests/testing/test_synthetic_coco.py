"""The synthetic COCO-format shapes set (repl_mm.testing.synthetic_coco)."""
import hashlib
import json
import os

import numpy as np
import pytest
from pycocotools.coco import COCO

from repl_mm.testing.synthetic_coco import SHAPE_CLASSES, make_synthetic_coco, render_image


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            with open(os.path.join(dirpath, f), 'rb') as fh:
                h.update(f.encode() + fh.read())
    return h.hexdigest()


def test_layout_and_determinism(tmp_path):
    a = make_synthetic_coco(str(tmp_path / 'a'), num_train=6, num_val=3, image_size=64,
                            min_size=10, max_size=30, seed=3)
    make_synthetic_coco(str(tmp_path / 'b'), num_train=6, num_val=3, image_size=64,
                            min_size=10, max_size=30, seed=3)
    make_synthetic_coco(str(tmp_path / 'c'), num_train=6, num_val=3, image_size=64,
                            min_size=10, max_size=30, seed=4)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b') != _digest(tmp_path / 'c')
    assert sorted(os.listdir(tmp_path / 'a' / 'train')) == [f'{i:06d}.png' for i in range(6)]
    coco = COCO(a['val'])
    assert len(coco.getImgIds()) == 3
    assert [coco.cats[i]['name'] for i in sorted(coco.cats)] == list(SHAPE_CLASSES)
    with open(a['train']) as f:
        ann = json.load(f)
    per_image = np.bincount([x['image_id'] for x in ann['annotations']], minlength=7)[1:]
    assert per_image.min() >= 1 and per_image.max() <= 3
    for x in ann['annotations']:
        x0, y0, w, h = x['bbox']
        assert 10 <= w <= 30 and 10 <= h <= 30 and x0 + w <= 64 and y0 + h <= 64
        assert x['area'] == w * h and x['iscrowd'] == 0


def test_boxes_are_the_drawn_extent():
    rng = np.random.RandomState(0)
    for _ in range(10):
        pixels, objects = render_image(rng, 96, 3, 12, 40)
        assert pixels.shape == (96, 96, 3) and pixels.dtype == np.uint8
        for obj in objects:
            x0, y0, x1, y1 = obj['bbox']
            name = SHAPE_CLASSES[obj['label']]
            if name != 'rectangle':
                continue  # the box of a filled rectangle is every pixel of its colour
            patch = pixels[y0:y1, x0:x1].astype(int)
            assert np.abs(patch - patch[0, 0]).max() == 0


@pytest.mark.parametrize('kw,field', [(dict(num_train=0), 'num_train'),
                                      (dict(min_size=40, max_size=30), 'min_size <= max_size')])
def test_bad_arguments(tmp_path, kw, field):
    with pytest.raises(ValueError, match=field):
        make_synthetic_coco(str(tmp_path), **kw)
