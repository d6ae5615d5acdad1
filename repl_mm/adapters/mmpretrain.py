"""RepL backbones in the mmpretrain scope, and mmpretrain's :class:`~.toolbox.Toolbox`.

``ResNetRepL``, ``ResNetV1cRepL``, ``ResNetV1dRepL`` (on
``mmpretrain.models.backbones.ResNet``: ``drop_path_rate`` included), ``CifarResNet``,
``CifarResNetRepL``, ``VisionTransformerRepL``, ``VisionTransformerSkipAt`` (the
Skip-Attention baseline of Tables I-II); importing it also registers the SVHN, STL-10 and
digits datasets (:mod:`repl_mm.datasets`).
"""
from copy import deepcopy
from typing import List, Tuple

from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import MODELS

from .. import datasets  # noqa: F401  SVHN, STL-10 (mmpretrain ships CIFAR-10, ImageNet)
from ..core.options import REPL_ARGS_DOC
from ..models.cifar_resnet import CifarResNet, CifarResNetRepL
from ..models.resnet import RepLResNetMixin, ResNetV1cMixin, ResNetV1dMixin
from ..models.skipat import VisionTransformerSkipAt
from ..models.vit import VisionTransformerRepL
from .toolbox import Toolbox

__all__ = ['ResNetRepL', 'ResNetV1cRepL', 'ResNetV1dRepL', 'TOOLBOX']


@MODELS.register_module()
class ResNetRepL(RepLResNetMixin, ResNet):
    __doc__ = ("RepL drop-in for mmpretrain's ``ResNet`` (paper §III-B): accepts every argument "
               'of that class (depth, strides, dilations, out_indices, style, deep_stem, '
               'avg_down, frozen_stages, norm_cfg, norm_eval, with_cp, zero_init_residual, '
               'drop_path_rate, init_cfg), plus:\n\n    Args:' + REPL_ARGS_DOC)
    ZERO_INIT_IN_INIT_WEIGHTS = True  # mmpretrain's ResNet.init_weights zeroes norm2/norm3


@MODELS.register_module()
class ResNetV1cRepL(ResNetV1cMixin, ResNetRepL):
    __doc__ = 'ResNetV1c-RepL (deep 3-conv stem). ' + ResNetRepL.__doc__


@MODELS.register_module()
class ResNetV1dRepL(ResNetV1dMixin, ResNetRepL):
    __doc__ = 'ResNetV1d-RepL (deep stem, average-pool shortcuts). ' + ResNetRepL.__doc__


MODELS.register_module(module=CifarResNet)
MODELS.register_module(module=CifarResNetRepL)
MODELS.register_module(module=VisionTransformerRepL)
MODELS.register_module(module=VisionTransformerSkipAt)


#: where mmpretrain's models keep ``num_classes`` (Faster/Cascade R-CNN: in the RoI head)
CLASS_HEADS = ('head',)


def _make_samples(classes: int, batch_size: int, size: Tuple[int, int], device, g) -> List:
    """A random class label per image."""
    import torch
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(int(torch.randint(classes, (1,), generator=g)))
            for _ in range(batch_size)]


def _prepare_config(cfg) -> None:
    """mmpretrain's ``tools/train.py`` / ``test.py`` dataloader defaults (``pin_memory``,
    ``persistent_workers``, ``default_collate``), set before ``--cfg-options``."""
    from mmengine.config import ConfigDict
    default = ConfigDict(pin_memory=True, persistent_workers=True,
                         collate_fn=dict(type='default_collate'))
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(default)
        loader.update(cfg[field])
        cfg[field] = loader


def _show_dir(cfg, hook, args) -> None:
    """mmpretrain ``tools/test.py``: its ``VisualizationHook`` is enabled and writes to
    ``out_dir``."""
    hook['enable'] = True
    hook['show'] = bool(getattr(args, 'show', False))
    hook['wait_time'] = getattr(args, 'wait_time', 2)
    hook['out_dir'] = getattr(args, 'show_dir', None)
    interval = getattr(args, 'interval', None)
    hook['interval'] = 1 if interval is None else interval


def _dump_results(runner, out: str) -> None:
    from mmengine.evaluator import DumpResults
    runner.test_evaluator.metrics.append(DumpResults(out_file_path=out))


TOOLBOX = Toolbox(scope='mmpretrain', package='mmpretrain', registry=MODELS,
                  make_samples=_make_samples, class_heads=CLASS_HEADS, default_num_classes=10,
                  visualization_hook='VisualizationHook', show_dir=_show_dir,
                  prepare_config=_prepare_config, dump_results=_dump_results,
                  default_tta_model=dict(type='mmpretrain.AverageClsScoreTTA'))

# the Transformer LM of Table X (paper §IV-D1d), its WikiText-2 data, metric and hooks
from . import mmpretrain_lm  # noqa: E402,F401
