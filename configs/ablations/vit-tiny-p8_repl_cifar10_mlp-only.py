"""Table VI "RepL (only MLP weights)": ViT-Tiny/8 on CIFAR-10.

Computing layers with the MLP-fusion branch only (eq. 25-27, fixed 1/2 weights); the attention-
projection branch (eq. 20-21) is left out.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``synthesis_branches``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_mlp-only.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(synthesis_branches=('mlp', )))
