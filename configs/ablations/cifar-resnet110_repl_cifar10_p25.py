"""Table III RepL at 25% of the blocks: CIFAR ResNet-110 on CIFAR-10.

Computing layers at the 25% plan ``replace_blocks=[[3, 7, 10, 14], [2, 5, 8, 11, 14], [2, 5, 8,
11, 14]]`` (14 of 54 blocks (25.9%)), the plan printed by ``python tools/analysis_tools/plan.py
configs/cifar-resnet110_repl_cifar10.py --remove-fraction 0.25`` (spread evenly over the stages,
first/last block of a stage kept, no two adjacent). ``replace_blocks`` is used instead of
``interval``.

Differs from ``cifar-resnet110_repl_cifar10.py`` only in ``replace_blocks``.

    python tools/train.py configs/ablations/cifar-resnet110_repl_cifar10_p25.py
"""
_base_ = '../cifar-resnet110_repl_cifar10.py'

model = dict(backbone=dict(replace_blocks=[[3, 7, 10, 14], [2, 5, 8, 11, 14], [2, 5, 8, 11, 14]]))
