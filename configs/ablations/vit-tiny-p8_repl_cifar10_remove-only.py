"""Table III "- 25% layers" as the paper describes it (§IV-C1: "direct removal ... with k=4"): ViT-
Tiny/8 on CIFAR-10.

The RepL config with ``remove_only=True``: the blocks of the K = 4 plan (2 of 12 blocks) are
dropped and nothing is inserted. K = 4 does not remove 25% of the blocks; ``vit-
tiny-p8_repl_cifar10_p25_remove-only.py`` removes the 25% plan.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_remove-only.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(remove_only=True))
