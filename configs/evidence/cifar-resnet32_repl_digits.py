"""ResNet-32 with Replacement Learning (K = 4, eq. 16: block 4 of each 5-block stage becomes a
computing layer) on the digits; otherwise ``cifar-resnet32_digits.py``.

    python tools/multi_seed.py configs/evidence/cifar-resnet32_repl_digits.py --seeds 0 1 2 3 4
"""
_base_ = './cifar-resnet32_digits.py'

model = dict(backbone=dict(type='CifarResNetRepL', interval=4))
