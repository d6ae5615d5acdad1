"""ResNet-32 RepL, Table VI "no weights" (coefficients='fixed': alpha = beta = 1/2) on the digits;
otherwise ``cifar-resnet32_repl_digits.py`` (one change, as in ``configs/ablations/``).

    python tools/multi_seed.py configs/evidence/cifar-resnet32_repl-no-weights_digits.py --seeds 0 1 2 3 4
"""
_base_ = './cifar-resnet32_repl_digits.py'

model = dict(backbone=dict(coefficients='fixed'))
