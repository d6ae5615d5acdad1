"""ResNet-32 RepL with fixed coefficients (coefficients='fixed': alpha = beta = 1/2, still
synthesized from the neighbours) on the digits; otherwise ``cifar-resnet32_repl_digits.py``.
The file name predates issue 23: this is the "fixed coefficients" ablation of ours, NOT the
paper's Table VI "no weights" row (``neighbours='none'``, docs/ablations.md); the evidence
numbers recorded under this name are for fixed coefficients.

    python tools/multi_seed.py configs/evidence/cifar-resnet32_repl-no-weights_digits.py --seeds 0 1 2 3 4
"""
_base_ = './cifar-resnet32_repl_digits.py'

model = dict(backbone=dict(coefficients='fixed'))
