"""The paper's small-set ResNet schedule (§IV-A: SGD, cosine) shortened for the CPU evidence
run: batch 64, learning rate 0.05 (the paper's 0.8 for batch 1024 scaled linearly), momentum
0.9, weight decay 5e-4, 1 epoch of linear warm-up then cosine annealing to 0.
4 epochs: 6 configs x 5 seeds must stay under about 40 minutes on 2 cores
(docs/evidence.md); ``--epochs`` of the evidence tool overrides it."""
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=1)
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=1)
val_cfg = dict()
test_cfg = dict()
