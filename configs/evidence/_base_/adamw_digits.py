"""The paper's small-set ViT schedule (§IV-A: AdamW, lr 1e-3) shortened for the CPU evidence
run: batch 64, learning rate 1e-3, the AdamW settings of ``adamw_vit.py``, 1 epoch of linear
warm-up then cosine annealing to 1e-5. 4 epochs: 6 configs x 5 seeds must stay under about
40 minutes on 2 cores (docs/evidence.md); ``--epochs`` of the evidence tool overrides it."""
_base_ = '../../_base_/schedules/adamw_vit.py'

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1)
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=1)
