"""Table VI "RepL (only Attention weights)": ViT-Tiny/8 on CIFAR-10.

Computing layers with the attention-projection branch only (eq. 20-21); the MLP-fusion branch
(eq. 25-27) is left out.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``synthesis_branches``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_attn-only.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(synthesis_branches=('attn', )))
