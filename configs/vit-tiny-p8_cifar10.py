"""ViT-Tiny/8 on CIFAR-10, the end-to-end (E2E) baseline of Table I (paper §IV-A).

Recipe (§IV-A): AdamW, lr 1e-3, batch 512 on one GPU, 250 epochs; 4-pixel reflection padding
+ random 32x32 crop + horizontal flip. Backbone: mmpretrain ``VisionTransformer`` arch
``deit-tiny`` (192-d, 12 layers, 3 heads) on 32x32 images with 8x8 patches (16 tokens +
class token).

    python tools/train.py configs/vit-tiny-p8_cifar10.py
"""
_base_ = [
    './_base_/models/vit.py',
    './_base_/datasets/cifar10.py',
    './_base_/schedules/small_adamw_250e.py',
    './_base_/cls_runtime.py',
]

model = dict(
    backbone=dict(arch='deit-tiny', img_size=32, patch_size=8),
    head=dict(num_classes=10, in_channels=192))

train_dataloader = dict(batch_size=512)
