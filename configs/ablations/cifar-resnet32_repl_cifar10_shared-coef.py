"""Table XVI "RepL (1 parameter)": CIFAR ResNet-32 on CIFAR-10.

One coefficient per site with beta = 1 - alpha (``coefficients='shared'``) instead of separate
alpha and beta.

Differs from ``cifar-resnet32_repl_cifar10.py`` only in ``coefficients``.

    python tools/train.py configs/ablations/cifar-resnet32_repl_cifar10_shared-coef.py
"""
_base_ = '../cifar-resnet32_repl_cifar10.py'

model = dict(backbone=dict(coefficients='shared'))
