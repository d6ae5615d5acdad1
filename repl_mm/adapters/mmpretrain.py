"""RepL backbones in the mmpretrain scope: ``ResNetRepL``, ``ResNetV1cRepL``, ``ResNetV1dRepL``,
``CifarResNet``, ``CifarResNetRepL``, ``VisionTransformerRepL``, ``VisionTransformerSkipAt``
(the Skip-Attention baseline)."""
from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import MODELS

from ..models.cifar_resnet import CifarResNet, CifarResNetRepL
from .factory import make_resnet_repl_classes

ResNetRepL, ResNetV1cRepL, ResNetV1dRepL = make_resnet_repl_classes(ResNet, MODELS, __name__)
MODELS.register_module(module=CifarResNet)
MODELS.register_module(module=CifarResNetRepL)

# ViT-RepL (paper §III-C), built on mmpretrain's VisionTransformer
from ..models.vit import VisionTransformerRepL  # noqa: E402

MODELS.register_module(module=VisionTransformerRepL)

# Skip-Attention baseline of Tables I-II (Venkataramanan et al., ICLR 2024)
from ..models.skipat import VisionTransformerSkipAt  # noqa: E402

MODELS.register_module(module=VisionTransformerSkipAt)

# SVHN and STL-10 datasets (mmpretrain ships CIFAR-10 and ImageNet only)
from .. import datasets  # noqa: E402,F401
