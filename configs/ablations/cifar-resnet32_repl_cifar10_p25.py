"""Table III RepL at 25% of the blocks: CIFAR ResNet-32 on CIFAR-10.

Computing layers at the 25% plan ``replace_blocks=[[2], [2], [1, 3]]`` (4 of 15 blocks (26.7%)),
the plan printed by ``python tools/analysis_tools/plan.py configs/cifar-resnet32_repl_cifar10.py
--remove-fraction 0.25`` (spread evenly over the stages, first/last block of a stage kept, no
two adjacent). ``replace_blocks`` is used instead of ``interval``.

Differs from ``cifar-resnet32_repl_cifar10.py`` only in ``replace_blocks``.

    python tools/train.py configs/ablations/cifar-resnet32_repl_cifar10_p25.py
"""
_base_ = '../cifar-resnet32_repl_cifar10.py'

model = dict(backbone=dict(replace_blocks=[[2], [2], [1, 3]]))
