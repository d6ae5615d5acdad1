"""Plain ViT classifier (Dosovitskiy et al.) built on mmpretrain's ``VisionTransformer``:
class-token output, ``VisionTransformerClsHead``, DeiT-style truncated-normal init. Leaf
configs set ``arch`` (``deit-tiny`` = ViT-T, ``deit-small`` = ViT-S, ``base`` = ViT-B),
``img_size``, ``patch_size``, and the head's ``num_classes`` / ``in_channels``."""
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='deit-tiny',
        img_size=224,
        patch_size=16),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=1000,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=.02),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
    ])
