"""ResNet-32 with the RepL plan's blocks removed and nothing inserted (``remove_only=True``,
the "-25% layers" row of Tables III-IV at the K = 4 plan: 3 of 15 blocks) on the digits;
otherwise ``cifar-resnet32_digits.py``.

    python tools/multi_seed.py configs/evidence/cifar-resnet32_remove-only_digits.py \
        --seeds 0 1 2 3 4
"""
_base_ = './cifar-resnet32_digits.py'

model = dict(backbone=dict(type='CifarResNetRepL', interval=4, remove_only=True))
