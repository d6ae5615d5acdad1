"""DeepLabV3+-R101 on CityScapes with Replacement Learning: the RepL row of Table XIV (paper
§IV-D1g).

The recipe of ``deeplabv3plus_r101_cityscapes.py`` with the backbone switched to
``ResNetV1cRepL``, interval K=4 (eq. 16: stage 3 (23 blocks) loses blocks 4, 8, 12, 16, 20,
each replaced by a computing layer), fine-tuned from the RepL ImageNet checkpoint that
``configs/resnet101-v1c_repl_imagenet.py`` writes. Its backbone keys match this backbone one
for one (same stem, same removal plan), so nothing is missing or unexpected.

    python tools/train.py configs/deeplabv3plus_r101_repl_cityscapes.py
"""
_base_ = './deeplabv3plus_r101_cityscapes.py'

pretrained = 'work_dirs/resnet101-v1c_repl_imagenet/epoch_90.pth'

model = dict(
    backbone=dict(type='ResNetV1cRepL', interval=4, init_cfg=dict(checkpoint=pretrained)))
