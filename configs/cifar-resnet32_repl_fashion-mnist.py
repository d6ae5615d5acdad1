"""ResNet-32 (CIFAR variant) on Fashion-MNIST trained with Replacement Learning: block 4 of each
of the three 5-block stages removed (K=4, eq. 16) and replaced by a computing layer synthesised
from its two neighbours (eq. 8-11). Everything else is ``cifar-resnet32_fashion-mnist.py``.

    python tools/train.py configs/cifar-resnet32_repl_fashion-mnist.py
"""
_base_ = './cifar-resnet32_fashion-mnist.py'

model = dict(backbone=dict(type='CifarResNetRepL', interval=4))
