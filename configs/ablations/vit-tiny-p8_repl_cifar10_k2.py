"""Table V, interval K = 2: ViT-Tiny/8 on CIFAR-10.

The RepL config with ``interval=2`` (eq. 16: the 1-based blocks r = 2, 4, 6, ... < L_s of each
stage are replaced); K = 4 is the parent itself. K = 2 is valid here (BasicBlock / transformer
neighbours have the removed block's widths); on Bottleneck ResNets it is refused (block 1's left
neighbour is the stage-transition block).

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``interval``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_k2.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(interval=2))
