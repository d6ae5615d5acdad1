"""CIFAR-10 as in the paper §IV-A: 4-pixel reflection padding, random crop back to 32x32,
horizontal flip with probability 0.5. mmpretrain's ``CIFAR10`` reads the official
``cifar-10-batches-py`` pickles under ``data/cifar10`` (see docs/classification.md)."""
_base_ = 'mmpretrain::_base_/datasets/cifar10_bs16.py'

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(num_workers=4, dataset=dict(download=False, pipeline=train_pipeline))
val_dataloader = dict(batch_size=256, num_workers=4,
                      dataset=dict(download=False, pipeline=test_pipeline))
test_dataloader = val_dataloader
