"""Tiny RepL models shared by the deploy / inference / export tests (seconds on one core)."""
import torch
from mmengine.registry import DefaultScope

#: quarter-width ResNet-34 with 5 BasicBlock computing layers (one per stage, two in stage 3)
RESNET34_BACKBONE = dict(type='ResNetRepL', depth=34, stem_channels=16, base_channels=16,
                         replace_blocks=[[1], [1], [1, 3], [1]])
#: eighth-width ResNet-50 with one Bottleneck computing layer (interval 4: stage 3, block 3)
RESNET50_BACKBONE = dict(type='ResNetRepL', depth=50, stem_channels=8, base_channels=8,
                         interval=4)
#: a 6-block ViT of width 32 at 32 px; interval 4 removes block 3
VIT_BACKBONE = dict(type='VisionTransformerRepL', img_size=32, patch_size=8,
                    arch=dict(embed_dims=32, num_layers=6, num_heads=2,
                              feedforward_channels=64), interval=4)

NUM_CLASSES = 4


def classifier_cfg(backbone: dict, num_classes: int = NUM_CLASSES) -> dict:
    """An mmpretrain ``ImageClassifier`` around ``backbone``."""
    if backbone['type'] == 'VisionTransformerRepL':
        return dict(type='ImageClassifier', backbone=dict(backbone, out_type='cls_token'),
                    head=dict(type='VisionTransformerClsHead', num_classes=num_classes,
                              in_channels=backbone['arch']['embed_dims']))
    width = backbone['base_channels'] * 8 * (4 if backbone['depth'] >= 50 else 1)
    return dict(type='ImageClassifier', backbone=backbone,
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=width))


def build(scope: str, cfg: dict):
    """Builds ``cfg`` in ``scope``'s ``MODELS`` registry."""
    import importlib

    import repl_mm  # noqa: F401
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


def trained_like(model: torch.nn.Module, x: torch.Tensor, seed: int = 0) -> torch.nn.Module:
    """Gives the synthesis coefficients non-default values and the BNs running statistics
    (a few train-mode forwards), then returns the model in eval mode."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'synthesis' in name:
                p.uniform_(0.2, 1.0)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(x, mode='tensor') if _takes_mode(model) else model(x)
    model.eval()
    return model


def _takes_mode(model) -> bool:
    from mmengine.model import BaseModel
    return isinstance(model, BaseModel)
