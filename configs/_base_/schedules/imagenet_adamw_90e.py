"""ImageNet ViT schedule of the paper §IV-A: AdamW, learning rate 7.5e-4 for a total batch
of 1024 (4 GPUs x 256), 90 epochs.

Not given by the paper and taken from mmpretrain's DeiT recipe: weight decay 0.05 (none on
norms, biases, cls token and position embedding), betas (0.9, 0.999), gradient clipping at
norm 5, 5 epochs of linear warm-up then cosine annealing to 1e-5.
"""
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=7.5e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]

train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=1024)
