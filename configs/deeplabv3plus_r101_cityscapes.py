"""DeepLabV3+-R101 on CityScapes, the end-to-end (E2E) row of Table XIV (paper §IV-D1g).

The recipe of ``deeplabv3plus_r50_cityscapes.py`` (mmseg's DeepLabV3+ model and CityScapes
configs with the paper's SGD lr 0.1, batch 16 on one GPU, 768x768 crops, 30k iterations)
with a ResNetV1c-101 backbone initialised from the checkpoint that
``configs/resnet101-v1c_imagenet.py`` writes.

    python tools/train.py configs/deeplabv3plus_r101_cityscapes.py
"""
_base_ = './deeplabv3plus_r50_cityscapes.py'

pretrained = 'work_dirs/resnet101-v1c_imagenet/epoch_90.pth'

model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint=pretrained)))
