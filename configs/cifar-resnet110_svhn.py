"""ResNet-110 (CIFAR variant, He et al. §4.2) on SVHN, the end-to-end (E2E) baseline of Table I
(paper §IV-A).

Recipe (§IV-A): SGD, lr 0.8, batch 1024 on one GPU, 250 epochs; random 32x32 crop with
2-pixel padding, no flip.

    python tools/train.py configs/cifar-resnet110_svhn.py
"""
_base_ = [
    './_base_/models/cifar-resnet.py',
    './_base_/datasets/svhn.py',
    './_base_/schedules/small_sgd_250e.py',
    './_base_/cls_runtime.py',
]

model = dict(backbone=dict(depth=110))

train_dataloader = dict(batch_size=1024)
