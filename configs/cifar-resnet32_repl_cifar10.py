"""ResNet-32 (CIFAR variant) on CIFAR-10 trained with Replacement Learning (Table I).

The recipe of ``cifar-resnet32_cifar10.py`` with the backbone switched to
``CifarResNetRepL``, interval K=4 (eq. 16): each of the three stages of 5 BasicBlocks loses
blocks 4, each replaced by a computing layer synthesised from its two neighbours.

    python tools/train.py configs/cifar-resnet32_repl_cifar10.py
"""
_base_ = './cifar-resnet32_cifar10.py'

model = dict(backbone=dict(type='CifarResNetRepL', interval=4))
