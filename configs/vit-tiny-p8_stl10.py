"""ViT-Tiny/8 on STL-10, the end-to-end (E2E) baseline of Table I (paper §IV-A).

Recipe (§IV-A): AdamW, lr 1e-3, batch 512 on one GPU, 250 epochs; random 96x96 crop with
4-pixel padding + horizontal flip. Backbone: mmpretrain ``VisionTransformer`` arch
``deit-tiny`` (192-d, 12 layers, 3 heads) on 96x96 images with 8x8 patches (144 tokens +
class token).

    python tools/train.py configs/vit-tiny-p8_stl10.py
"""
_base_ = [
    './_base_/models/vit.py',
    './_base_/datasets/stl10.py',
    './_base_/schedules/small_adamw_250e.py',
    './_base_/cls_runtime.py',
]

model = dict(
    backbone=dict(arch='deit-tiny', img_size=96, patch_size=8),
    head=dict(num_classes=10, in_channels=192))

train_dataloader = dict(batch_size=512)
