"""A small, deterministic COCO-format detection set of coloured shapes.

Used by the detection demo (``tools/misc/demo_detection.py``) and the tool tests, so that the
whole mmdet pipeline -- ``CocoDataset``, the RetinaNet training loop and ``CocoMetric``
(pycocotools bbox mAP) -- runs on a machine without COCO. Each image holds a textured background
and one to ``max_objects`` filled shapes, one class per shape (rectangle, ellipse, triangle), each
class with its own hue (jittered). Everything follows from ``seed``.

Layout written under ``root`` (the COCO layout with split names ``train``/``val``)::

    root/annotations/instances_train.json
    root/annotations/instances_val.json
    root/train/000000.png ...
    root/val/000000.png ...
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

__all__ = ['SHAPE_CLASSES', 'make_synthetic_coco', 'render_image']

#: Category names, COCO ids 1, 2, 3.
SHAPE_CLASSES: Tuple[str, ...] = ('rectangle', 'ellipse', 'triangle')
_BASE_COLOURS = {'rectangle': (220, 50, 40), 'ellipse': (40, 190, 60), 'triangle': (50, 80, 230)}


def _overlaps(box: Sequence[float], boxes: List[Sequence[float]], max_iou: float) -> bool:
    x0, y0, x1, y1 = box
    for a0, b0, a1, b1 in boxes:
        iw = max(0.0, min(x1, a1) - max(x0, a0))
        ih = max(0.0, min(y1, b1) - max(y0, b0))
        inter = iw * ih
        union = (x1 - x0) * (y1 - y0) + (a1 - a0) * (b1 - b0) - inter
        if inter / union > max_iou:
            return True
    return False


def render_image(rng: np.random.RandomState, size: int, max_objects: int,
                 min_size: int, max_size: int) -> Tuple[np.ndarray, List[dict]]:
    """One image (``size x size x 3`` uint8 RGB) and its objects ``{'label', 'bbox'}``, with
    ``bbox = (x0, y0, x1, y1)`` the exact pixel extent of the drawn shape."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(60, 170, size=3)
    tilt = rng.uniform(-40, 40, size=(2, 3))
    background = base + xs[..., None] * tilt[0] + ys[..., None] * tilt[1]
    background += rng.normal(0, 12, size=(size, size, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    objects: List[dict] = []
    boxes: List[Tuple[int, int, int, int]] = []
    for _ in range(rng.randint(1, max_objects + 1)):
        for _attempt in range(20):
            w, h = rng.randint(min_size, max_size + 1, size=2)
            x0, y0 = rng.randint(0, size - w + 1), rng.randint(0, size - h + 1)
            box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
            if not _overlaps(box, boxes, 0.1):
                break
        else:
            continue
        label = int(rng.randint(len(SHAPE_CLASSES)))
        name = SHAPE_CLASSES[label]
        colour = tuple(int(np.clip(c + rng.randint(-30, 31), 0, 255))
                       for c in _BASE_COLOURS[name])
        x0, y0, x1, y1 = box
        # PIL fills [x0, x1] inclusive: draw to x1 - 1 so the extent is exactly the box
        if name == 'rectangle':
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=colour)
        elif name == 'ellipse':
            draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=colour)
        else:
            apex = x0 + int(rng.randint(0, x1 - x0))
            draw.polygon([(apex, y0), (x0, y1 - 1), (x1 - 1, y1 - 1)], fill=colour)
        boxes.append(box)
        objects.append({'label': label, 'bbox': box})
    return np.asarray(image), objects


def _write_split(root: str, split: str, num_images: int, rng: np.random.RandomState,
                 size: int, max_objects: int, min_size: int, max_size: int) -> str:
    img_dir = osp.join(root, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        pixels, objects = render_image(rng, size, max_objects, min_size, max_size)
        file_name = f'{i:06d}.png'
        Image.fromarray(pixels).save(osp.join(img_dir, file_name))
        images.append({'id': i + 1, 'file_name': file_name, 'width': size, 'height': size})
        for obj in objects:
            x0, y0, x1, y1 = obj['bbox']
            annotations.append({
                'id': len(annotations) + 1, 'image_id': i + 1,
                'category_id': obj['label'] + 1, 'bbox': [x0, y0, x1 - x0, y1 - y0],
                'area': float((x1 - x0) * (y1 - y0)), 'iscrowd': 0})
    ann = {'images': images, 'annotations': annotations,
           'categories': [{'id': i + 1, 'name': n} for i, n in enumerate(SHAPE_CLASSES)]}
    ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with open(ann_file, 'w') as f:
        json.dump(ann, f)
    return ann_file


def make_synthetic_coco(root: str, num_train: int = 96, num_val: int = 32,
                        image_size: int = 128, max_objects: int = 3, min_size: int = 20,
                        max_size: int = 56, seed: int = 0) -> Dict[str, str]:
    """Writes the set under ``root`` and returns the paths of its annotation files.

    Args:
        root (str): output directory (created).
        num_train (int): number of training images (>= 1).
        num_val (int): number of validation images (>= 1).
        image_size (int): side of the square images in pixels.
        max_objects (int): at most this many shapes per image (at least one).
        min_size (int): smallest shape side in pixels.
        max_size (int): largest shape side in pixels (<= ``image_size``).
        seed (int): seed of everything drawn; the same arguments give the same files.

    Returns:
        dict: ``{'train': ann_file, 'val': ann_file}``.
    """
    for name, value in (('num_train', num_train), ('num_val', num_val),
                        ('max_objects', max_objects), ('min_size', min_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be an int >= 1, got {value!r}')
    if not min_size <= max_size <= image_size:
        raise ValueError(f'need min_size <= max_size <= image_size, got min_size={min_size}, '
                         f'max_size={max_size}, image_size={image_size}')
    rng = np.random.RandomState(seed)
    return {split: _write_split(root, split, n, rng, image_size, max_objects, min_size,
                                max_size)
            for split, n in (('train', num_train), ('val', num_val))}
