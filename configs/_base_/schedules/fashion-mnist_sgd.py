"""Short SGD schedule for Fashion-MNIST on CPU (docs/evidence.md): batch 128 (469 iterations
an epoch), learning rate 0.1, momentum 0.9 (Nesterov), weight decay 5e-4, a linear warm-up over
the first 100 iterations, then cosine annealing to 0 over all epochs. Three epochs (1,407
iterations) is the budget of the evidence run on a 2-core machine (3 methods x 3 seeds, two
one-thread trainings at a time, 101 min beside other work; about 90.3 % top-1,
docs/evidence.md section 3); ``--cfg-options train_cfg.max_epochs=N`` trains longer (the
cosine follows)."""
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0,
         convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
