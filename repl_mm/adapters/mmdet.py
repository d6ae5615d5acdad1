"""RepL backbones in the mmdet scope: ``ResNetRepL``, ``ResNetV1cRepL``, ``ResNetV1dRepL``,
``CifarResNet``, ``CifarResNetRepL``."""
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS

from ..models.cifar_resnet import CifarResNet, CifarResNetRepL
from .factory import make_resnet_repl_classes

ResNetRepL, ResNetV1cRepL, ResNetV1dRepL = make_resnet_repl_classes(ResNet, MODELS, __name__)
MODELS.register_module(module=CifarResNet)
MODELS.register_module(module=CifarResNetRepL)
