"""Table III "- 25% layers": CIFAR ResNet-32 on CIFAR-10, the 25% plan with nothing inserted.

``cifar-resnet32_repl_cifar10_p25.py`` (``replace_blocks=[[2], [2], [1, 3]]``, 4 of 15 blocks
(26.7%)) with ``remove_only=True``: the same blocks are dropped and no computing layer takes
their place, the direct-removal row that its RepL twin ``cifar-resnet32_repl_cifar10_p25.py`` is
compared with.

Differs from ``ablations/cifar-resnet32_repl_cifar10_p25.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/cifar-resnet32_repl_cifar10_p25_remove-only.py
"""
_base_ = './cifar-resnet32_repl_cifar10_p25.py'

model = dict(backbone=dict(remove_only=True))
