"""DeepLabV3-R50 on CityScapes with Replacement Learning: the RepL row of Table XIV (paper
§IV-D1g).

The recipe of ``deeplabv3_r50_cityscapes.py`` with the backbone switched to
``ResNetV1cRepL``, interval K=4 (eq. 16: stage 3 (6 blocks) loses block 4, each replaced by
a computing layer), fine-tuned from the RepL ImageNet checkpoint that
``configs/resnet50-v1c_repl_imagenet.py`` writes. Its backbone keys match this backbone one
for one (same stem, same removal plan), so nothing is missing or unexpected.

    python tools/train.py configs/deeplabv3_r50_repl_cityscapes.py
"""
_base_ = './deeplabv3_r50_cityscapes.py'

pretrained = 'work_dirs/resnet50-v1c_repl_imagenet/epoch_90.pth'

model = dict(
    backbone=dict(type='ResNetV1cRepL', interval=4, init_cfg=dict(checkpoint=pretrained)))
