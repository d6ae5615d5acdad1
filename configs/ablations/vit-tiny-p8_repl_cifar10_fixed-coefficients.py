"""Fixed coefficients (an extra ablation, ours; not Table VI's "no weights"): ViT-Tiny/8 on CIFAR-10.

Computing layers whose synthesis has no trainable coefficients (``coefficients='fixed'``: alpha
= beta = 1/2 constants, see ``repl_mm.core.synthesis.SynthesisCoefficients``); the ViT computing
layers then hold no parameters at all. It costs what full RepL costs; the
paper's "no weights" row is ``vit-tiny-p8_repl_cifar10_no-weights.py``.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``coefficients``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_fixed-coefficients.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(coefficients='fixed'))
