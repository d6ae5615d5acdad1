"""ViT-Tiny/8 with Skip-Attention (Venkataramanan et al., ICLR 2024; layers 3-8, 0-based,
reuse the previous attention output through SkipAt's parametric function) on the digits;
otherwise ``vit-tiny-p8_digits.py``.

    python tools/multi_seed.py configs/evidence/vit-tiny-p8_skipat_digits.py --seeds 0 1 2 3 4
"""
_base_ = './vit-tiny-p8_digits.py'

model = dict(backbone=dict(type='VisionTransformerSkipAt', skip_layers=[3, 4, 5, 6, 7, 8]))
