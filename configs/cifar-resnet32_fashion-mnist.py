"""ResNet-32 (CIFAR variant, He et al. §4.2) trained end to end (E2E) on Fashion-MNIST: the
real-data evidence of docs/evidence.md (issue 25), not a paper experiment.

The paper's CIFAR ResNet-32 with a one-channel stem (``in_channels=1``) on 28x28 grey images
(``_base_/datasets/fashion-mnist.py``), the short SGD schedule of
``_base_/schedules/fashion-mnist_sgd.py``. Its twins differ in one key each:
``cifar-resnet32_repl_fashion-mnist.py`` (RepL, K=4) and
``cifar-resnet32_remove-only_fashion-mnist.py`` (the same blocks removed, nothing inserted).

    python tools/dataset_converters/prepare_fashion_mnist.py
    python tools/train.py configs/cifar-resnet32_fashion-mnist.py
    python tools/multi_seed.py configs/cifar-resnet32_fashion-mnist.py --seeds 0 1 2
"""
_base_ = [
    './_base_/models/cifar-resnet.py',
    './_base_/datasets/fashion-mnist.py',
    './_base_/schedules/fashion-mnist_sgd.py',
    './_base_/cls_runtime.py',
]

model = dict(backbone=dict(depth=32, in_channels=1))

# keep one checkpoint (resume) and no best-checkpoint copies: several seeds x three methods
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(max_keep_ckpts=1, save_best=None))
