"""ViT-T/16 on ImageNet-1k with Skip-Attention, the baseline of Table II (paper §IV-B2).

The recipe of ``vit-tiny-p16_imagenet.py`` with the backbone switched to
``VisionTransformerSkipAt`` (Venkataramanan et al., ICLR 2024, arXiv:2301.02240): layers 3-8
(0-based) of the 12 reuse the previous layer's self-attention output through SkipAt's
parametric function instead of computing attention (SkipAt's setting for its 12-layer
ViT-T/S/B; see repl_mm/models/skipat.py).

    bash tools/dist_train.sh configs/vit-tiny-p16_skipat_imagenet.py 4
"""
_base_ = './vit-tiny-p16_imagenet.py'

model = dict(backbone=dict(type='VisionTransformerSkipAt', skip_layers=[3, 4, 5, 6, 7, 8]))
