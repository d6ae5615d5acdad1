"""ResNet-32 (CIFAR variant) on Fashion-MNIST with RepL's blocks removed and nothing in their
place (``remove_only=True``, the "-25% layers" baseline of Tables III-IV): the same plan as
``cifar-resnet32_repl_fashion-mnist.py``, so the pair isolates what the computing layers add.

    python tools/train.py configs/cifar-resnet32_remove-only_fashion-mnist.py
"""
_base_ = './cifar-resnet32_repl_fashion-mnist.py'

model = dict(backbone=dict(remove_only=True))
