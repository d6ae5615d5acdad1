"""Table IX RepL + Checkpointing: ResNet-32 (CIFAR) on CIFAR-10.

Activation checkpointing (Chen et al. 2016): every block (and every computing layer) recomputes
its forward in backward instead of storing its activations (``with_cp=True`` of the mm ResNet
blocks).

Differs from ``cifar-resnet32_repl_cifar10.py`` only in ``with_cp``.

    python tools/train.py configs/table9/cifar-resnet32_repl_cifar10_cp.py
"""
_base_ = '../cifar-resnet32_repl_cifar10.py'

model = dict(backbone=dict(with_cp=True))
