"""ViT-Tiny/8 on CIFAR-10 trained with Replacement Learning (Table I).

The recipe of ``vit-tiny-p8_cifar10.py`` with the backbone switched to
``VisionTransformerRepL``, interval K=4 (eq. 16): encoder layers 4 and 8 of 12 become
computing layers.

    python tools/train.py configs/vit-tiny-p8_repl_cifar10.py
"""
_base_ = './vit-tiny-p8_cifar10.py'

model = dict(backbone=dict(type='VisionTransformerRepL', interval=4))
