"""ResNet-110 (CIFAR variant) on STL-10 trained with Replacement Learning (Table I).

The recipe of ``cifar-resnet110_stl10.py`` with the backbone switched to
``CifarResNetRepL``, interval K=4 (eq. 16): each of the three stages of 18 BasicBlocks loses
blocks 4, 8, 12, 16, each replaced by a computing layer synthesised from its two neighbours.

    python tools/train.py configs/cifar-resnet110_repl_stl10.py
"""
_base_ = './cifar-resnet110_stl10.py'

model = dict(backbone=dict(type='CifarResNetRepL', interval=4))
