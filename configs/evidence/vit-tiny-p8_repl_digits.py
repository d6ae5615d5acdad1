"""ViT-Tiny/8 with Replacement Learning (K = 4: layers 4 and 8 of 12 become computing layers)
on the digits; otherwise ``vit-tiny-p8_digits.py``.

    python tools/multi_seed.py configs/evidence/vit-tiny-p8_repl_digits.py --seeds 0 1 2 3 4
"""
_base_ = './vit-tiny-p8_digits.py'

model = dict(backbone=dict(type='VisionTransformerRepL', interval=4))
