"""Fixed coefficients (an extra ablation, ours; not Table VI's "no weights"): CIFAR ResNet-110 on CIFAR-10.

Computing layers whose synthesis has no trainable coefficients (``coefficients='fixed'``: alpha
= beta = 1/2 constants, see ``repl_mm.core.synthesis.SynthesisCoefficients``); the BN of each
CNN computing layer stays trainable. It costs what full RepL costs; the
paper's "no weights" row is ``cifar-resnet110_repl_cifar10_no-weights.py``.

Differs from ``cifar-resnet110_repl_cifar10.py`` only in ``coefficients``.

    python tools/train.py configs/ablations/cifar-resnet110_repl_cifar10_fixed-coefficients.py
"""
_base_ = '../cifar-resnet110_repl_cifar10.py'

model = dict(backbone=dict(coefficients='fixed'))
