"""Table IV "- 25% layers" as the paper describes it (§IV-C1: "direct removal ... with k=4"): ViT-
Tiny/16 on ImageNet-1k.

The RepL config with ``remove_only=True``: the blocks of the K = 4 plan (2 of 12 blocks) are
dropped and nothing is inserted. K = 4 does not remove 25% of the blocks; ``vit-
tiny-p16_repl_imagenet_p25_remove-only.py`` removes the 25% plan.

Differs from ``vit-tiny-p16_repl_imagenet.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/vit-tiny-p16_repl_imagenet_remove-only.py
"""
_base_ = '../vit-tiny-p16_repl_imagenet.py'

model = dict(backbone=dict(remove_only=True))
