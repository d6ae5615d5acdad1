"""ResNet-152 on ImageNet-1k trained with Replacement Learning (Table II).

The recipe of ``resnet152_imagenet.py`` with the backbone switched to ``ResNetRepL``,
interval K=4 (eq. 16): stage 2 (8 blocks) loses block 4, stage 3 (36 blocks) blocks 4, 8,
..., 32; each removed block becomes a computing layer synthesised from its two neighbours.

    bash tools/dist_train.sh configs/resnet152_repl_imagenet.py 4
    python tools/test.py configs/resnet152_repl_imagenet.py \\
        work_dirs/resnet152_repl_imagenet/epoch_90.pth
"""
_base_ = './resnet152_imagenet.py'

model = dict(backbone=dict(type='ResNetRepL', interval=4))
