"""Table IX E2E + Stochastic Depth: ResNet-32 (CIFAR) on CIFAR-10.

Stochastic depth of Huang et al. (2016) (``repl_mm.models.stochastic_depth``): block l of L
survives a mini-batch with p_l = 1 - (l/L)(1 - 0.5), a dropped residual branch is not computed,
eval scales each branch by p_l.

Differs from ``cifar-resnet32_cifar10.py`` only in ``stochastic_depth``.

    python tools/train.py configs/table9/cifar-resnet32_cifar10_sd.py
"""
_base_ = '../cifar-resnet32_cifar10.py'

model = dict(backbone=dict(stochastic_depth=dict(p_last=0.5)))
