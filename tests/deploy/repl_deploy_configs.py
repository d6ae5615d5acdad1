"""Tiny configs of the three toolboxes written to files, and their RepL checkpoints in both
forms (training checkpoint as the Runner lays it out, deploy checkpoint from the converter)."""
import os
import os.path as osp
from typing import Dict, Tuple

import torch
from mmengine.config import Config
from repl_deploy_tiny import RESNET34_BACKBONE, classifier_cfg, trained_like

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
SHAPES_CLASSES = ('rectangle', 'ellipse', 'triangle')


def det_config(tmp_path) -> str:
    """The tiny RetinaNet-R34-RepL of tests/tools (eighth width, 64 px) on 8 + 4 shapes."""
    try:
        from repl_mm.testing.synthetic_coco import make_synthetic_coco
    except ImportError:
        from repl_mm.testing.synthetic_coco import make_synthetic_coco
    root = str(tmp_path / 'shapes') + '/'
    make_synthetic_coco(root, num_train=8, num_val=4, image_size=64, min_size=12, max_size=32,
                        seed=0)
    old = os.environ.get('SHAPES_ROOT')
    os.environ['SHAPES_ROOT'] = root
    try:
        cfg = Config.fromfile(osp.join(ROOT, 'tests', 'tools', 'tiny_retinanet_repl.py'))
    finally:
        if old is None:
            os.environ.pop('SHAPES_ROOT', None)
        else:
            os.environ['SHAPES_ROOT'] = old
    cfg.work_dir = str(tmp_path / 'work_det')
    path = str(tmp_path / 'det_cfg.py')
    cfg.dump(path)
    return path


def cls_config(tmp_path, backbone: dict = RESNET34_BACKBONE) -> str:
    """configs/resnet101_repl_imagenet.py on a 6-class tiny ImageNet (32 px), with a tiny
    RepL backbone."""
    from test_classification_e2e import NUM_CLASSES, make_tiny_imagenet, tiny_imagenet_cfg
    data_root = str(tmp_path / 'imagenet')
    if not osp.isdir(data_root):
        make_tiny_imagenet(data_root)
    cfg = tiny_imagenet_cfg('resnet101_repl_imagenet', data_root, str(tmp_path / 'work_cls'))
    model = classifier_cfg(backbone, NUM_CLASSES)
    cfg.model = model
    cfg.data_preprocessor.num_classes = NUM_CLASSES
    path = str(tmp_path / f'cls_{backbone["type"]}.py')
    cfg.dump(path)
    return path


def seg_config(tmp_path) -> str:
    """configs/deeplabv3plus_r50_repl_cityscapes.py on a 2-image tiny CityScapes (32x64),
    with an eighth-width ResNet-50-V1c-RepL (one Bottleneck computing layer)."""
    from test_segmentation_e2e import make_tiny_cityscapes, tiny_cfg
    data_root = str(tmp_path / 'cityscapes')
    make_tiny_cityscapes(data_root)
    cfg = tiny_cfg('deeplabv3plus_r50_repl_cityscapes', data_root, str(tmp_path / 'work_seg'),
                   'unused.pth')
    cfg.model.backbone.update(stem_channels=16, base_channels=8, init_cfg=None)
    cfg.model.decode_head.update(in_channels=256, channels=16, c1_in_channels=32,
                                 c1_channels=8)
    cfg.model.auxiliary_head.update(in_channels=128, channels=16)
    # mmseg's inference_model reads the top-level test_pipeline (Cityscapes: 2048x1024)
    cfg.test_pipeline = cfg.test_dataloader.dataset.pipeline
    path = str(tmp_path / 'seg_cfg.py')
    cfg.dump(path)
    return path


def dataset_meta(config: str) -> Dict:
    """What the Runner saves in ``meta['dataset_meta']``: the test dataset's metainfo."""
    from repl_mm.engine.runner.build import load_config
    cfg = load_config(config)
    scope = cfg.default_scope
    if scope == 'mmdet':
        return dict(classes=SHAPES_CLASSES, palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142)])
    if scope == 'mmseg':  # not Cityscapes' names: the fallback must not pass for them
        return dict(classes=tuple(f'stuff_{i}' for i in range(19)),
                    palette=[[i * 13, 255 - i * 13, i * 7] for i in range(19)])
    return dict(classes=tuple(f'class_{i}' for i in range(cfg.model.head.num_classes)))


def make_checkpoints(config: str, tmp_path, size: Tuple[int, int] = (32, 32),
                     seed: int = 0) -> Tuple[str, str]:
    """A training checkpoint (``state_dict`` + ``meta`` as the Runner writes, with
    trained-looking synthesis coefficients and BN statistics) and its deploy checkpoint
    written by :func:`repl_mm.deploy.reparameterize_checkpoint`."""
    from repl_mm.deploy import build_model_from_config, reparameterize_checkpoint
    torch.manual_seed(seed)
    model, cfg = build_model_from_config(config)
    trained_like(model, torch.randn(2, 3, *size), seed)
    name = osp.splitext(osp.basename(config))[0]
    train = str(tmp_path / f'{name}_epoch_1.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': dataset_meta(config), 'epoch': 1, 'iter': 4,
                         'cfg': cfg.pretty_text, 'seed': seed},
                'optimizer': {'state': {}, 'param_groups': []}}, train)
    if not hasattr(getattr(model, 'backbone', model), 'switch_to_deploy'):
        return train, None   # an E2E model
    deploy = str(tmp_path / f'{name}_deploy.pth')
    reparameterize_checkpoint(config, train, deploy, input_size=size)
    return train, deploy
