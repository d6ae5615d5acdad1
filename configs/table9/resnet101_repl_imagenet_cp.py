"""Table IX RepL + Checkpointing: ResNet-101 on ImageNet-1k.

Activation checkpointing (Chen et al. 2016): every block (and every computing layer) recomputes
its forward in backward instead of storing its activations (``with_cp=True`` of the mm ResNet
blocks).

Differs from ``resnet101_repl_imagenet.py`` only in ``with_cp``.

    bash tools/dist_train.sh configs/table9/resnet101_repl_imagenet_cp.py 4
"""
_base_ = '../resnet101_repl_imagenet.py'

model = dict(backbone=dict(with_cp=True))
