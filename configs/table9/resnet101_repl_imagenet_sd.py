"""Table IX RepL + Stochastic Depth: ResNet-101 on ImageNet-1k.

Stochastic depth of Huang et al. (2016) (``repl_mm.models.stochastic_depth``): block l of L
survives a mini-batch with p_l = 1 - (l/L)(1 - 0.5), a dropped residual branch is not computed,
eval scales each branch by p_l. RepL: retained blocks keep the p_l of their original depth;
computing layers are never dropped.

Differs from ``resnet101_repl_imagenet.py`` only in ``stochastic_depth``.

    bash tools/dist_train.sh configs/table9/resnet101_repl_imagenet_sd.py 4
"""
_base_ = '../resnet101_repl_imagenet.py'

model = dict(backbone=dict(stochastic_depth=dict(p_last=0.5)))
