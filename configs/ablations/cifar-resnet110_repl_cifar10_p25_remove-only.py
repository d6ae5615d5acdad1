"""Table III "- 25% layers": CIFAR ResNet-110 on CIFAR-10, the 25% plan with nothing inserted.

``cifar-resnet110_repl_cifar10_p25.py`` (``replace_blocks=[[3, 7, 10, 14], [2, 5, 8, 11, 14],
[2, 5, 8, 11, 14]]``, 14 of 54 blocks (25.9%)) with ``remove_only=True``: the same blocks are
dropped and no computing layer takes their place, the direct-removal row that its RepL twin
``cifar-resnet110_repl_cifar10_p25.py`` is compared with.

Differs from ``ablations/cifar-resnet110_repl_cifar10_p25.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/cifar-resnet110_repl_cifar10_p25_remove-only.py
"""
_base_ = './cifar-resnet110_repl_cifar10_p25.py'

model = dict(backbone=dict(remove_only=True))
