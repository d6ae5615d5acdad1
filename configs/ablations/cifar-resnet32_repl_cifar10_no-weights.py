"""Table VI "RepL (no weights)": CIFAR ResNet-32 on CIFAR-10.

The paper's row "does not use adjacent parameters" and has "only an extra learnable mapping":
each computing layer owns a learnable operator of exactly the shape RepL would synthesize
(an own 3x3 kernel (C, C, 3, 3) and BN of the synthesized shape (eq. 8-11)) and reads no neighbour weight (``neighbours='none'``,
``repl_mm.core.own``). More parameters than RepL (the whole operator instead of the
coefficients), no synthesis work; docs/ablations.md gives the costs.

Differs from ``cifar-resnet32_repl_cifar10.py`` only in ``neighbours``. The older reading (alpha = beta =
1/2, still synthesized from the neighbours) is ``cifar-resnet32_repl_cifar10_fixed-coefficients.py``.

    python tools/train.py configs/ablations/cifar-resnet32_repl_cifar10_no-weights.py
"""
_base_ = '../cifar-resnet32_repl_cifar10.py'

model = dict(backbone=dict(neighbours='none'))
