"""CIFAR-10 / SVHN / STL-10 ResNet schedule of the paper §IV-A: SGD, learning rate 0.8 for a
batch of 1024 on one GPU, 250 epochs.

Not given by the paper: momentum 0.9, weight decay 5e-4, 5 epochs of linear warm-up (the
usual gradual warm-up for a large-batch SGD learning rate) then cosine annealing to 0.
"""
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.8, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=5)
]

train_cfg = dict(by_epoch=True, max_epochs=250, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=1024)
