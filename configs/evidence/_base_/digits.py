"""scikit-learn's 1,797 handwritten digits (``DigitsDataset``, repl_mm/datasets/digits.py):
8x8 grey images upsampled to 32x32x3 by pixel replication; fixed split, the last 20% in
scikit-learn's order (359 images) is the test set, the first 1,438 the training set.

Augmentation as for SVHN in the paper (§IV-A): random 32x32 crop with 2-pixel padding, no
flip (digits are not mirror-symmetric). Normalisation: the mean / std of the training split.
One data process (``num_workers=0``): the set is in memory and the machine has 2 cores.
"""
dataset_type = 'DigitsDataset'
data_preprocessor = dict(
    num_classes=10,
    mean=[77.89, 77.89, 77.89],
    std=[95.72, 95.72, 95.72],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, split='train', img_size=32, pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, split='test', img_size=32, pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
