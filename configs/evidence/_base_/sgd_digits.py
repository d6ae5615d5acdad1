"""The paper's small-set ResNet schedule (§IV-A: SGD with momentum, cosine annealing)
shortened for the CPU evidence run of docs/evidence.md: learning rate 0.1 for the batch of 16
the ResNet evidence configs set (90 iterations per epoch on the 1,438 training digits: more
updates for the same compute than a larger batch), momentum 0.9, weight decay 5e-4, a linear
warm-up over the first 20 iterations, then cosine annealing to 0 over all epochs. 4 epochs:
the whole evidence run (11 configs x 5 seeds) must stay under about 40 minutes on 2 cores;
``--epochs`` of the evidence tool overrides it."""
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0,
         convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=1)
val_cfg = dict()
test_cfg = dict()
