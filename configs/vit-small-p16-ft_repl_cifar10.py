"""ViT-S/16 RepL-pretrained on ImageNet-1k, fine-tuned on CIFAR-10 with Replacement Learning:
the RepL row of Table XIII (paper §IV-D1f).

The recipe of ``vit-small-p16-ft_cifar10.py`` with the backbone switched to
``VisionTransformerRepL`` (interval K=4) and initialised from the checkpoint written by
``configs/vit-small-p16_repl_imagenet.py`` (layers 4 and 8 are computing layers in both).

    python tools/train.py configs/vit-small-p16-ft_repl_cifar10.py
"""
_base_ = './vit-small-p16-ft_cifar10.py'

pretrained = 'work_dirs/vit-small-p16_repl_imagenet/epoch_90.pth'

model = dict(
    backbone=dict(
        type='VisionTransformerRepL', interval=4, init_cfg=dict(checkpoint=pretrained)))
