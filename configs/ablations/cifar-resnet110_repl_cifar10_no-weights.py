"""Table VI "RepL (no weights)": CIFAR ResNet-110 on CIFAR-10.

Computing layers whose synthesis has no trainable coefficients (``coefficients='fixed'``: alpha
= beta = 1/2 constants, see ``repl_mm.core.synthesis.SynthesisCoefficients``); the BN of each
CNN computing layer stays trainable. Our reading of the row; docs/ablations.md says how it
differs from the paper's prose.

Differs from ``cifar-resnet110_repl_cifar10.py`` only in ``coefficients``.

    python tools/train.py configs/ablations/cifar-resnet110_repl_cifar10_no-weights.py
"""
_base_ = '../cifar-resnet110_repl_cifar10.py'

model = dict(backbone=dict(coefficients='fixed'))
