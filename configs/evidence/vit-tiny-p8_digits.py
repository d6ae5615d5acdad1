"""ViT-Tiny/8 at 32 px (the paper's Table I ViT: ``deit-tiny``, 192-d, 12 layers, 3 heads, 16
patches + class token) trained end to end (E2E) on scikit-learn's handwritten digits: the CPU
real-data evidence of docs/evidence.md (issue 15), not a paper experiment.

    python tools/multi_seed.py configs/evidence/vit-tiny-p8_digits.py --seeds 0 1 2 3 4
"""
_base_ = [
    '../_base_/models/vit.py',
    './_base_/digits.py',
    './_base_/adamw_digits.py',
    '../_base_/cls_runtime.py',
]

model = dict(
    backbone=dict(arch='deit-tiny', img_size=32, patch_size=8),
    head=dict(num_classes=10, in_channels=192))

# the batch the schedule's learning rate is set for (_base_/adamw_digits.py)
train_dataloader = dict(batch_size=32)

default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(max_keep_ckpts=1, save_best=None))
