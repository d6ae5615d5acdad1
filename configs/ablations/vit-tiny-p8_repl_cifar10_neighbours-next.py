"""Table VII, only the succeeding layer: ViT-Tiny/8 on CIFAR-10.

The synthesis reads only the succeeding retained block (``neighbours='next'``); the parent uses
both.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``neighbours``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_neighbours-next.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(neighbours='next'))
