"""Table III "- 25% layers" as the paper describes it (§IV-C1: "direct removal ... with k=4"):
CIFAR ResNet-32 on CIFAR-10.

The RepL config with ``remove_only=True``: the blocks of the K = 4 plan (3 of 15 blocks) are
dropped and nothing is inserted. K = 4 does not remove 25% of the blocks; ``cifar-
resnet32_repl_cifar10_p25_remove-only.py`` removes the 25% plan.

Differs from ``cifar-resnet32_repl_cifar10.py`` only in ``remove_only``.

    python tools/train.py configs/ablations/cifar-resnet32_repl_cifar10_remove-only.py
"""
_base_ = '../cifar-resnet32_repl_cifar10.py'

model = dict(backbone=dict(remove_only=True))
