"""Table IX E2E + Stochastic Depth: ResNet-101 on ImageNet-1k.

Stochastic depth of Huang et al. (2016) (``repl_mm.models.stochastic_depth``): block l of L
survives a mini-batch with p_l = 1 - (l/L)(1 - 0.5), a dropped residual branch is not computed,
eval scales each branch by p_l. The stock ``ResNet`` has no such option, so the backbone is
``ResNetRepL`` with ``interval=None``, which removes nothing and is the stock ResNet (same keys,
same outputs).

Differs from ``resnet101_imagenet.py`` only in ``type``, ``interval`` (None: nothing removed)
and ``stochastic_depth``.

    bash tools/dist_train.sh configs/table9/resnet101_imagenet_sd.py 4
"""
_base_ = '../resnet101_imagenet.py'

model = dict(backbone=dict(type='ResNetRepL', interval=None, stochastic_depth=dict(p_last=0.5)))
