"""Fashion-MNIST (Xiao et al. 2017): 60,000 training / 10,000 test 28x28 grey images, 10
classes, read by mmpretrain's ``FashionMNIST`` from the four uncompressed idx files under
``data/fashion-mnist`` (``tools/dataset_converters/prepare_fashion_mnist.py`` puts them there;
docs/evidence.md). The images stay 28x28 with ONE channel (the backbones get
``in_channels=1``); nothing is resized or padded to 32x32.

Augmentation, the standard one for this set: 4-pixel zero padding and a random 28x28 crop,
horizontal flip with probability 0.5 (clothes are mirror-symmetric, unlike digits).
Normalisation: the training split's mean / std (0.2860 / 0.3530 of 255).

mmpretrain's ``MNIST``/``FashionMNIST`` pick the test files by ``test_mode``, not by
``split``: the val/test sets set both (``split='test'`` alone would evaluate on the
training images).
"""
dataset_type = 'FashionMNIST'
data_root = 'data/fashion-mnist'
data_preprocessor = dict(num_classes=10, mean=[72.94], std=[90.02], to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=4, pad_val=0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', download=False,
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=500,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', test_mode=True,
                 download=False, pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
