"""DeepLabV3+-R50 on CityScapes, the end-to-end (E2E) row of Table XIV (paper §IV-D1g).

mmseg's DeepLabV3+ model config (``mmseg::_base_/models/deeplabv3plus_r50-d8.py``: ResNetV1c
backbone with dilations 1, 1, 2, 4 and output stride 8, depthwise-separable ASPP head with
the stage-1 low-level branch and an FCN auxiliary head on stage 3) set up like mmseg's
769x769 CityScapes configs (sliding-window inference, align_corners=True), trained with the
paper's recipe (``_base_/cityscapes_768x768_30k.py``: SGD, lr 0.1, batch 16 on one GPU,
768x768 crops, 30k iterations) from an ImageNet-pretrained backbone.

The backbone is initialised from the checkpoint that ``configs/resnet50-v1c_imagenet.py``
writes (``prefix='backbone.'`` takes the backbone out of the classifier). Point it elsewhere
with ``--cfg-options model.backbone.init_cfg.checkpoint=PATH`` (overriding the
``pretrained`` variable from the command line does not reach the model).

    python tools/train.py configs/deeplabv3plus_r50_cityscapes.py
    python tools/test.py configs/deeplabv3plus_r50_cityscapes.py \\
        work_dirs/deeplabv3plus_r50_cityscapes/iter_30000.pth
"""
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    './_base_/cityscapes_768x768_30k.py',
]

pretrained = 'work_dirs/resnet50-v1c_imagenet/epoch_90.pth'

crop_size = (768, 768)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(align_corners=True),
    auxiliary_head=dict(align_corners=True),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))
