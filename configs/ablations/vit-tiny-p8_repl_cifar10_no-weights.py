"""Table VI "RepL (no weights)": ViT-Tiny/8 on CIFAR-10.

Computing layers whose synthesis has no trainable coefficients (``coefficients='fixed'``: alpha
= beta = 1/2 constants, see ``repl_mm.core.synthesis.SynthesisCoefficients``); the ViT computing
layers then hold no parameters at all. Our reading of the row; docs/ablations.md says how it
differs from the paper's prose.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``coefficients``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_no-weights.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(coefficients='fixed'))
