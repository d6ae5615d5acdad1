"""Head-wise ViT synthesis (eq. 22-24): ViT-B/16 on ImageNet-1k.

Per-head coefficients alpha_h, beta_h on the row-normalised projections, the left neighbour's
LN_1 and the d^{-1/2} scale (eq. 22-24; 2H coefficients per site, eq. 50) instead of the scalar
form of eq. 20-21.

Differs from ``vit-base-p16_repl_imagenet.py`` only in ``head_wise``.

    python tools/train.py configs/ablations/vit-base-p16_repl_imagenet_head-wise.py
"""
_base_ = '../vit-base-p16_repl_imagenet.py'

model = dict(backbone=dict(head_wise=True))
