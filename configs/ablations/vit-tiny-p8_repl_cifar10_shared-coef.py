"""Table XVI "RepL (1 parameter)": ViT-Tiny/8 on CIFAR-10.

One coefficient per site with beta = 1 - alpha (``coefficients='shared'``) instead of separate
alpha and beta.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``coefficients``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_shared-coef.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(coefficients='shared'))
