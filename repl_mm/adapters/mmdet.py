"""RepL backbones in the mmdet scope, and mmdet's :class:`~.toolbox.Toolbox`.

``ResNetRepL``, ``ResNetV1cRepL``, ``ResNetV1dRepL`` (on ``mmdet.models.backbones.ResNet``:
``dcn``/``stage_with_dcn``/``plugins`` included), ``CifarResNet``, ``CifarResNetRepL``.
"""
from typing import List, Tuple

from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS

from ..core.options import REPL_ARGS_DOC
from ..models.cifar_resnet import CifarResNet, CifarResNetRepL
from ..models.resnet import RepLResNetMixin, ResNetV1cMixin, ResNetV1dMixin
from .toolbox import Toolbox, set_draw_hook

__all__ = ['ResNetRepL', 'ResNetV1cRepL', 'ResNetV1dRepL', 'TOOLBOX']


@MODELS.register_module()
class ResNetRepL(RepLResNetMixin, ResNet):
    __doc__ = ("RepL drop-in for mmdet's ``ResNet`` (paper §III-B): accepts every argument of "
               'that class (depth, strides, dilations, out_indices, style, deep_stem, avg_down, '
               'frozen_stages, norm_cfg, norm_eval, dcn, stage_with_dcn, plugins, with_cp, '
               'zero_init_residual, init_cfg), plus:\n\n    Args:' + REPL_ARGS_DOC)


@MODELS.register_module()
class ResNetV1cRepL(ResNetV1cMixin, ResNetRepL):
    __doc__ = 'ResNetV1c-RepL (deep 3-conv stem). ' + ResNetRepL.__doc__


@MODELS.register_module()
class ResNetV1dRepL(ResNetV1dMixin, ResNetRepL):
    __doc__ = 'ResNetV1d-RepL (deep stem, average-pool shortcuts). ' + ResNetRepL.__doc__


MODELS.register_module(module=CifarResNet)
MODELS.register_module(module=CifarResNetRepL)


#: where mmdet's models keep ``num_classes`` (Faster/Cascade R-CNN: in the RoI head)
CLASS_HEADS = ('bbox_head', 'roi_head.bbox_head', 'roi_head.bbox_head.0')


def _make_samples(classes: int, batch_size: int, size: Tuple[int, int], device, g) -> List:
    """Four random boxes (at least 32 px) with random labels per image, and image metas."""
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    h, w = size
    samples = []
    for _ in range(batch_size):
        s = DetDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w),
                                        batch_input_shape=(h, w), ori_shape=(h, w),
                                        scale_factor=(1., 1.)))
        xy = torch.rand(4, 2, generator=g) * torch.tensor([w / 2, h / 2])
        wh = 32 + torch.rand(4, 2, generator=g) * torch.tensor([w / 2 - 32, h / 2 - 32])
        s.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], 1).to(device),
            labels=torch.randint(classes, (4,), generator=g).to(device))
        samples.append(s)
    return samples


def _show_dir(cfg, hook, args) -> None:
    """mmdet ``tools/test.py``: ``DetVisualizationHook`` draws; ``--show-dir`` is its
    ``test_out_dir`` (under the run's work dir)."""
    set_draw_hook(hook, args)
    if getattr(args, 'show_dir', None):
        hook['test_out_dir'] = args.show_dir


def _dump_results(runner, out: str) -> None:
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl or .pickle file, got {out!r}')
    from mmdet.evaluation import DumpDetResults
    runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))


def _before_build(cfg) -> None:
    import os
    if 'DYNAMO_CACHE_SIZE_LIMIT' in os.environ:
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        setup_cache_size_limit_of_dynamo()


TOOLBOX = Toolbox(scope='mmdet', package='mmdet', registry=MODELS, make_samples=_make_samples,
                  class_heads=CLASS_HEADS,
                  visualization_hook='DetVisualizationHook', show_dir=_show_dir,
                  dump_results=_dump_results, before_build=_before_build,
                  default_tta_model=dict(type='DetTTAModel', tta_cfg=dict(
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)),
                  # DetTTAModel reads the flip of each view
                  tta_pack=dict(type='PackDetInputs', meta_keys=(
                      'img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                      'flip_direction')))
