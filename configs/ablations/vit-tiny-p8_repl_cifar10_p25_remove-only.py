"""Table III "- 25% layers": ViT-Tiny/8 on CIFAR-10, the 25% plan with nothing inserted.

``vit-tiny-p8_repl_cifar10_p25.py`` (``replace_blocks=[2, 5, 8]``, 3 of 12 blocks (25.0%)) with
``remove_only=True``: the same blocks are dropped and no computing layer takes their place, the
direct-removal row that its RepL twin ``vit-tiny-p8_repl_cifar10_p25.py`` is compared with.

Differs from ``ablations/vit-tiny-p8_repl_cifar10_p25.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_p25_remove-only.py
"""
_base_ = './vit-tiny-p8_repl_cifar10_p25.py'

model = dict(backbone=dict(remove_only=True))
