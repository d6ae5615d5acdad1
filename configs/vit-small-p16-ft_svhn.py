"""ViT-S/16 pretrained on ImageNet-1k, fine-tuned on SVHN: the E2E row of Table XIII (paper
§IV-D1f).

Recipe (§IV-D1f): AdamW, lr 2e-4, batch 512, 100 epochs. The SVHN augmentation of §IV-A
(random 32x32 crop with 2-pixel padding, no flip) at the native 32x32, then a bicubic resize
to 224x224 so the 16x16 patch grid and position embedding of the ImageNet model are kept.
The backbone starts from the checkpoint written by ``configs/vit-small-p16_imagenet.py``
(set ``pretrained`` below, or ``--cfg-options model.backbone.init_cfg.checkpoint=PATH``);
the head is new.

    python tools/train.py configs/vit-small-p16-ft_svhn.py
"""
_base_ = [
    './_base_/models/vit.py',
    './_base_/datasets/svhn.py',
    './_base_/schedules/finetune_adamw_100e.py',
    './_base_/cls_runtime.py',
]

pretrained = 'work_dirs/vit-small-p16_imagenet/epoch_90.pth'

model = dict(
    backbone=dict(
        arch='deit-small',
        img_size=224,
        patch_size=16,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(num_classes=10, in_channels=384))

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=2),
    dict(type='Resize', scale=224, interpolation='bicubic'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=224, interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=512, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=256, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
