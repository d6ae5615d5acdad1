"""The AdamW recipe shared by every ViT schedule here (ImageNet, CIFAR-10 / SVHN / STL-10 and
fine-tuning); each schedule sets its own learning rate, warm-up, epochs and batch.

Not given by the paper and taken from mmpretrain's DeiT recipe: weight decay 0.05 (none on
norms, biases, cls token and position embedding), betas (0.9, 0.999), gradient clipping at
norm 5.
"""
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }),
    clip_grad=dict(max_norm=5.0))

val_cfg = dict()
test_cfg = dict()
