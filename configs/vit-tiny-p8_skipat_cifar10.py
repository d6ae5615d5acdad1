"""ViT-Tiny/8 on CIFAR-10 with Skip-Attention, the baseline of Table I (paper §IV-B1).

The recipe of ``vit-tiny-p8_cifar10.py`` with the backbone switched to
``VisionTransformerSkipAt`` (Venkataramanan et al., ICLR 2024, arXiv:2301.02240): layers 3-8
(0-based) of the 12 reuse the previous layer's self-attention output through SkipAt's
parametric function instead of computing attention (SkipAt's ViT-T setting; see
repl_mm/models/skipat.py).

    python tools/train.py configs/vit-tiny-p8_skipat_cifar10.py
"""
_base_ = './vit-tiny-p8_cifar10.py'

model = dict(backbone=dict(type='VisionTransformerSkipAt', skip_layers=[3, 4, 5, 6, 7, 8]))
