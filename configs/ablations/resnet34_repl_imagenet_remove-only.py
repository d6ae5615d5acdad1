"""Table IV "- 25% layers" as the paper describes it (§IV-C1: "direct removal ... with k=4"):
ResNet-34 on ImageNet-1k.

The RepL config with ``remove_only=True``: the blocks of the K = 4 plan (1 of 16 blocks) are
dropped and nothing is inserted. K = 4 does not remove 25% of the blocks;
``resnet34_repl_imagenet_p25_remove-only.py`` removes the 25% plan.

Differs from ``resnet34_repl_imagenet.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/resnet34_repl_imagenet_remove-only.py
"""
_base_ = '../resnet34_repl_imagenet.py'

model = dict(backbone=dict(remove_only=True))
