"""Table IV RepL at 25% of the blocks: ResNet-34 on ImageNet-1k.

Computing layers at the 25% plan ``replace_blocks=[[1], [1], [2], [1]]`` (4 of 16 blocks
(25.0%)), the plan printed by ``python tools/analysis_tools/plan.py
configs/resnet34_repl_imagenet.py --remove-fraction 0.25`` (spread evenly over the stages,
first/last block of a stage kept, no two adjacent). ``replace_blocks`` is used instead of
``interval``.

Differs from ``resnet34_repl_imagenet.py`` only in ``replace_blocks``.

    python tools/train.py configs/ablations/resnet34_repl_imagenet_p25.py
"""
_base_ = '../resnet34_repl_imagenet.py'

model = dict(backbone=dict(replace_blocks=[[1], [1], [2], [1]]))
