"""ResNet-32 (CIFAR variant) trained end to end (E2E) on scikit-learn's handwritten digits at
32 px: the CPU real-data evidence of docs/evidence.md (issue 15), not a paper experiment.

The paper's ResNet-32 classifier (``configs/cifar-resnet32_cifar10.py``'s model) with the
digits data (``_base_/digits.py``) and the shortened SGD schedule (``_base_/sgd_digits.py``).

    python tools/multi_seed.py configs/evidence/cifar-resnet32_digits.py --seeds 0 1 2 3 4
"""
_base_ = [
    '../_base_/models/cifar-resnet.py',
    './_base_/digits.py',
    './_base_/sgd_digits.py',
    '../_base_/cls_runtime.py',
]

model = dict(backbone=dict(depth=32))

# the batch the schedule's learning rate is set for (_base_/sgd_digits.py)
train_dataloader = dict(batch_size=16)

# keep one checkpoint (resume) and no best-checkpoint copies: 5 seeds x several configs
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(max_keep_ckpts=1, save_best=None))
