"""Table VI "RepL (no weights)": ViT-Tiny/8 on CIFAR-10.

The paper's row "does not use adjacent parameters" and has "only an extra learnable mapping":
each computing layer owns a learnable operator of exactly the shape RepL would synthesize
(an own attention projection (W, b) and an own MLP branch (LN, fc1, GELU, fc2) of the synthesized shapes (eq. 20-27)) and reads no neighbour weight (``neighbours='none'``,
``repl_mm.core.own``). More parameters than RepL (the whole operator instead of the
coefficients), no synthesis work; docs/ablations.md gives the costs.

Differs from ``vit-tiny-p8_repl_cifar10.py`` only in ``neighbours``. The older reading (alpha = beta =
1/2, still synthesized from the neighbours) is ``vit-tiny-p8_repl_cifar10_fixed-coefficients.py``.

    python tools/train.py configs/ablations/vit-tiny-p8_repl_cifar10_no-weights.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

model = dict(backbone=dict(neighbours='none'))
