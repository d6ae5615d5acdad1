"""Table V, interval K = 2: CIFAR ResNet-32 on CIFAR-10.

The RepL config with ``interval=2`` (eq. 16: blocks r = 2, 4 of each 5-block stage, 0-based [1,
3]). The paper runs Table V on ResNet-110 and ViT-Tiny/8; there is no K = 6 twin for ResNet-32
because r = 6 >= L_s = 5 removes nothing (the E2E model).

Differs from ``cifar-resnet32_repl_cifar10.py`` only in ``interval``.

    python tools/train.py configs/ablations/cifar-resnet32_repl_cifar10_k2.py
"""
_base_ = '../cifar-resnet32_repl_cifar10.py'

model = dict(backbone=dict(interval=2))
