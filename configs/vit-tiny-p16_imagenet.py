"""ViT-T/16 on ImageNet-1k, the end-to-end (E2E) baseline of Table II (paper §IV-A).

Recipe (§IV-A): AdamW, lr 7.5e-4, total batch 1024 = 4 GPUs x 256, 90 epochs; 224x224
random-resized crop + horizontal flip to train, resize (short edge 256) + centre crop 224 to
test; top-1 / top-5 accuracy. Backbone: mmpretrain ``VisionTransformer`` arch ``deit-tiny``
(192-d tokens, 12 layers), 16x16 patches.

    bash tools/dist_train.sh configs/vit-tiny-p16_imagenet.py 4
"""
_base_ = [
    './_base_/models/vit.py',
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    './_base_/schedules/imagenet_adamw_90e.py',
    './_base_/cls_runtime.py',
]

model = dict(
    backbone=dict(arch='deit-tiny', img_size=224, patch_size=16),
    head=dict(num_classes=1000, in_channels=192))

train_dataloader = dict(batch_size=256)  # per GPU; x4 GPUs = 1024
