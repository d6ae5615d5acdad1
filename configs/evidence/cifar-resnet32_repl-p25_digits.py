"""ResNet-32 RepL at 25 % of the blocks (Table III: replace_blocks=[[2], [2], [1, 3]], 4 of 15, the
plan of plan.py --remove-fraction 0.25) on the digits; otherwise ``cifar-
resnet32_repl_digits.py`` (one change, as in ``configs/ablations/``).

    python tools/multi_seed.py configs/evidence/cifar-resnet32_repl-p25_digits.py --seeds 0 1 2 3 4
"""
_base_ = './cifar-resnet32_repl_digits.py'

model = dict(backbone=dict(interval=None, replace_blocks=[[2], [2], [1, 3]]))
