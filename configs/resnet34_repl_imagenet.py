"""ResNet-34 on ImageNet-1k trained with Replacement Learning (Table II).

The recipe of ``resnet34_imagenet.py`` with the backbone switched to ``ResNetRepL``,
interval K=4 (eq. 16): stage 3 (6 blocks) loses block 4; each removed block becomes a
computing layer synthesised from its two neighbours.

    bash tools/dist_train.sh configs/resnet34_repl_imagenet.py 4
    python tools/test.py configs/resnet34_repl_imagenet.py \\
        work_dirs/resnet34_repl_imagenet/epoch_90.pth
"""
_base_ = './resnet34_imagenet.py'

model = dict(backbone=dict(type='ResNetRepL', interval=4))
