"""Table VII, only the preceding layer: CIFAR ResNet-32 on CIFAR-10.

The synthesis reads only the preceding retained block (``neighbours='prev'``); the parent uses
both.

Differs from ``cifar-resnet32_repl_cifar10.py`` only in ``neighbours``.

    python tools/train.py configs/ablations/cifar-resnet32_repl_cifar10_neighbours-prev.py
"""
_base_ = '../cifar-resnet32_repl_cifar10.py'

model = dict(backbone=dict(neighbours='prev'))
