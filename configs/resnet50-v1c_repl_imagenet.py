"""ResNet-50-V1c on ImageNet-1k trained with Replacement Learning (pretraining for Table XIV).

The recipe of ``resnet50-v1c_imagenet.py`` with the backbone switched to ``ResNetV1cRepL``
(mmseg's), interval K=4 (eq. 16): stage 3 (6 blocks) loses block 4; each removed block
becomes a computing layer synthesised from its two neighbours.

    bash tools/dist_train.sh configs/resnet50-v1c_repl_imagenet.py 4
    python tools/test.py configs/resnet50-v1c_repl_imagenet.py \\
        work_dirs/resnet50-v1c_repl_imagenet/epoch_90.pth
"""
_base_ = './resnet50-v1c_imagenet.py'

model = dict(backbone=dict(type='mmseg.ResNetV1cRepL', interval=4))
