"""ViT-B/16 on ImageNet-1k trained with Replacement Learning (Table II).

The recipe of ``vit-base-p16_imagenet.py`` with the backbone switched to
``VisionTransformerRepL``, interval K=4 (eq. 16): of the 12 encoder layers, layers 4 and 8
become computing layers synthesised from their neighbours.

    bash tools/dist_train.sh configs/vit-base-p16_repl_imagenet.py 4
"""
_base_ = './vit-base-p16_imagenet.py'

model = dict(backbone=dict(type='VisionTransformerRepL', interval=4))
