"""CIFAR-10 / SVHN / STL-10 ViT schedule of the paper §IV-A: AdamW, learning rate 1e-3 for a
batch of 512 on one GPU, 250 epochs.

Not given by the paper: the AdamW settings of ``adamw_vit.py``, 10 epochs of linear warm-up
then cosine annealing to 1e-5.
"""
_base_ = './adamw_vit.py'

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10)
]

train_cfg = dict(by_epoch=True, max_epochs=250, val_interval=1)

auto_scale_lr = dict(base_batch_size=512)
