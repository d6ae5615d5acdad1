"""ImageNet ViT schedule of the paper §IV-A: AdamW, learning rate 7.5e-4 for a total batch
of 1024 (4 GPUs x 256), 90 epochs.

Not given by the paper: the AdamW settings of ``adamw_vit.py`` (mmpretrain's DeiT recipe),
5 epochs of linear warm-up then cosine annealing to 1e-5.
"""
_base_ = './adamw_vit.py'

optim_wrapper = dict(optimizer=dict(lr=7.5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]

train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)

auto_scale_lr = dict(base_batch_size=1024)
