"""RepL backbones in the mmseg scope, and mmseg's :class:`~.toolbox.Toolbox`.

``ResNetRepL``, ``ResNetV1cRepL``, ``ResNetV1dRepL`` (on ``mmseg.models.backbones.ResNet``:
``contract_dilation``/``multi_grid`` included), ``CifarResNet``, ``CifarResNetRepL`` and
``VisionTransformerRepL`` as an mmseg encoder (also ``type='mmpretrain.VisionTransformerRepL'``).
The CIFAR ResNets and ViT-RepL are built on mmpretrain, which must be installed.
"""
from typing import List, Tuple

from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS

from ..core.options import REPL_ARGS_DOC
from ..models.cifar_resnet import CifarResNet, CifarResNetRepL
from ..models.resnet import RepLResNetMixin, ResNetV1cMixin, ResNetV1dMixin
from ..models.vit import VisionTransformerRepL
from .toolbox import Toolbox, set_draw_hook

__all__ = ['ResNetRepL', 'ResNetV1cRepL', 'ResNetV1dRepL', 'TOOLBOX']


@MODELS.register_module()
class ResNetRepL(RepLResNetMixin, ResNet):
    __doc__ = ("RepL drop-in for mmseg's ``ResNet`` (paper §III-B): accepts every argument of "
               'that class (depth, strides, dilations, contract_dilation, multi_grid, '
               'deep_stem, avg_down, frozen_stages, norm_cfg, norm_eval, with_cp, '
               'zero_init_residual, init_cfg, ...), plus:\n\n    Args:' + REPL_ARGS_DOC)


@MODELS.register_module()
class ResNetV1cRepL(ResNetV1cMixin, ResNetRepL):
    __doc__ = ('ResNetV1c-RepL (deep 3-conv stem; the DeepLab backbone). '
               + ResNetRepL.__doc__)


@MODELS.register_module()
class ResNetV1dRepL(ResNetV1dMixin, ResNetRepL):
    __doc__ = 'ResNetV1d-RepL (deep stem, average-pool shortcuts). ' + ResNetRepL.__doc__


MODELS.register_module(module=CifarResNet)
MODELS.register_module(module=CifarResNetRepL)
MODELS.register_module(module=VisionTransformerRepL)


#: where mmseg's models keep ``num_classes`` (Faster/Cascade R-CNN: in the RoI head)
CLASS_HEADS = ('decode_head',)


def _make_samples(classes: int, batch_size: int, size: Tuple[int, int], device, g) -> List:
    """A random label map per image."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h, w = size
    samples = []
    for _ in range(batch_size):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=torch.randint(classes, (1, h, w), generator=g).to(device))
        samples.append(s)
    return samples


def _show_dir(cfg, hook, args) -> None:
    """mmseg ``tools/test.py``: ``SegVisualizationHook`` draws; ``--show-dir`` is the
    visualizer's ``save_dir``."""
    set_draw_hook(hook, args)
    if getattr(args, 'show_dir', None):
        cfg.visualizer['save_dir'] = args.show_dir


def _test_out_args(cfg, out: str) -> None:
    """mmseg ``tools/test.py --out DIR``: the evaluator keeps and writes the results."""
    cfg.test_evaluator['output_dir'] = out
    cfg.test_evaluator['keep_results'] = True


TOOLBOX = Toolbox(scope='mmseg', package='mmseg', registry=MODELS, make_samples=_make_samples,
                  class_heads=CLASS_HEADS,
                  visualization_hook='SegVisualizationHook', show_dir=_show_dir,
                  test_out_args=_test_out_args)
