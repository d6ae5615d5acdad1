"""RepL backbones in the mmseg scope: ``ResNetRepL``, ``ResNetV1cRepL``, ``ResNetV1dRepL``,
``CifarResNet``, ``CifarResNetRepL``, ``VisionTransformerRepL``.

The CIFAR ResNets and ViT-RepL are built on mmpretrain, which must be installed."""
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS

from ..models.cifar_resnet import CifarResNet, CifarResNetRepL
from .factory import make_resnet_repl_classes

ResNetRepL, ResNetV1cRepL, ResNetV1dRepL = make_resnet_repl_classes(ResNet, MODELS, __name__)
MODELS.register_module(module=CifarResNet)
MODELS.register_module(module=CifarResNetRepL)

# ViT-RepL (paper §III-C): mmpretrain's VisionTransformer as an mmseg encoder (also reachable
# as type='mmpretrain.VisionTransformerRepL').
from ..models.vit import VisionTransformerRepL  # noqa: E402

MODELS.register_module(module=VisionTransformerRepL)
