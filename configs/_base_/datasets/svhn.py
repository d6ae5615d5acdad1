"""SVHN as in the paper §IV-A: random 32x32 crop with 2-pixel padding, no flip.

``SVHN`` (repl_mm.datasets) reads the official cropped-digit files ``train_32x32.mat`` /
``test_32x32.mat`` under ``data/svhn`` (see docs/classification.md); label 10 is digit 0.
Normalisation: the per-channel mean / std of the SVHN training split.
"""
dataset_type = 'SVHN'
data_preprocessor = dict(
    num_classes=10,
    mean=[111.61, 113.17, 120.56],
    std=[50.49, 51.26, 50.24],
    to_rgb=False)  # the dataset yields RGB arrays

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root='data/svhn', split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root='data/svhn', split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
