"""STL-10 as in the paper §IV-A: random 96x96 crop with 4-pixel padding, horizontal flip
with probability 0.5.

``STL10`` (repl_mm.datasets) reads the official binary release ``stl10_binary/`` under
``data/stl10`` (labelled ``train`` 5,000 / ``test`` 8,000 images; see
docs/classification.md). Normalisation: the commonly used per-channel mean / std of STL-10.
"""
dataset_type = 'STL10'
data_preprocessor = dict(
    num_classes=10,
    mean=[113.91, 112.15, 103.69],
    std=[66.38, 65.43, 69.18],
    to_rgb=False)  # the dataset yields RGB arrays

train_pipeline = [
    dict(type='RandomCrop', crop_size=96, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root='data/stl10', split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root='data/stl10', split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
