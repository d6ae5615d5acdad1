"""ImageNet ResNet schedule of the paper §IV-A: SGD, learning rate 0.2 for a total batch of
512 (4 GPUs x 128), 90 epochs.

Not given by the paper and taken from mmpretrain's ``imagenet_bs256`` recipe (which uses
lr 0.1 for batch 256, i.e. the same linear scaling): momentum 0.9, weight decay 1e-4,
step decay x0.1 at epochs 30 and 60.
"""
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60], gamma=0.1)

train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# lr 0.2 belongs to a total batch of 512; ``tools/train.py --auto-scale-lr`` rescales it
auto_scale_lr = dict(base_batch_size=512)
