"""Table IV "- 25% layers": ResNet-34 on ImageNet-1k, the 25% plan with nothing inserted.

``resnet34_repl_imagenet_p25.py`` (``replace_blocks=[[1], [1], [2], [1]]``, 4 of 16 blocks
(25.0%)) with ``remove_only=True``: the same blocks are dropped and no computing layer takes
their place, the direct-removal row that its RepL twin ``resnet34_repl_imagenet_p25.py`` is
compared with.

Differs from ``ablations/resnet34_repl_imagenet_p25.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/resnet34_repl_imagenet_p25_remove-only.py
"""
_base_ = './resnet34_repl_imagenet_p25.py'

model = dict(backbone=dict(remove_only=True))
