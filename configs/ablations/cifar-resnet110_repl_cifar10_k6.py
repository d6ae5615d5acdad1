"""Table V, interval K = 6: CIFAR ResNet-110 on CIFAR-10.

The RepL config with ``interval=6`` (eq. 16: the 1-based blocks r = 6, 12, ... < L_s of each
stage are replaced); K = 4 is the parent itself. K = 2 is valid here (BasicBlock / transformer
neighbours have the removed block's widths); on Bottleneck ResNets it is refused (block 1's left
neighbour is the stage-transition block).

Differs from ``cifar-resnet110_repl_cifar10.py`` only in ``interval``.

    python tools/train.py configs/ablations/cifar-resnet110_repl_cifar10_k6.py
"""
_base_ = '../cifar-resnet110_repl_cifar10.py'

model = dict(backbone=dict(interval=6))
