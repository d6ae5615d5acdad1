"""ViT-S/16 fine-tuning schedule of Table XIII (paper §IV-D1f): AdamW, learning rate 2e-4
for a batch of 512, 100 epochs.

Not given by the paper: the AdamW settings of ``adamw_vit.py``, 5 epochs of linear warm-up
then cosine annealing to 1e-6.
"""
_base_ = './adamw_vit.py'

optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5)
]

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)

auto_scale_lr = dict(base_batch_size=512)
