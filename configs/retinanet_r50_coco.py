# RetinaNet-R50 on COCO, end-to-end (E2E) baseline of paper Table VIII (§IV-D1a).
#
# The paper's recipe: 4 GPUs x 2 images (batch 8), Adam, lr 4e-5, 100 epochs, from scratch.
#   tools/dist_train.sh configs/retinanet_r50_coco.py 4
#   tools/dist_test.sh configs/retinanet_r50_coco.py work_dirs/retinanet_r50_coco/epoch_100.pth 4
# Data root: COCO_ROOT=/path/to/coco/ (environment) or see docs/detection.md for --cfg-options.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['repl_mm'], allow_failed_imports=False)

# Stop at the first NaN/inf loss, and keep the random state in every checkpoint for a bit-exact
# resume (repl_mm.engine.hooks, docs/training.md). To train on through a NaN loss:
# custom_hooks = [dict(type='NonFiniteLossHook', enabled=False), dict(type='RNGStateHook'), ...]
# On a cluster (docs/training.md): a checkpoint on SIGTERM/SIGUSR1, and resume refuses a
# changed model.
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RNGStateHook'),
                dict(type='PreemptionCheckpointHook'), dict(type='ModelFingerprintHook')]
# ReplRunner (repl_mm.engine): safe weights_only loading, auto-resume from the newest loadable
# checkpoint and crash-safe saves; SafeCheckpointHook deletes an old checkpoint only after the
# new one is durable (docs/training.md)
runner_type = 'ReplRunner'

data_root = '{{$COCO_ROOT:data/coco/}}'
train_dataloader = dict(batch_size=2, num_workers=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# From scratch: no ImageNet initialisation. With random weights every stage trains
# (frozen_stages=-1) and BN updates its statistics (norm_eval=False); mmdet's defaults
# (frozen stem + stage 1, frozen BN statistics) only make sense for a pretrained backbone.
model = dict(backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False))

# Adam, lr 4e-5, 100 epochs. The paper names no LR decay: the LR stays constant after mmdet's
# usual 500-iteration linear warm-up.
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(_delete_=True, type='Adam', lr=4e-5, weight_decay=0.0))
max_epochs = 100
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
]
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3))
# --auto-scale-lr scales lr by (total batch / 8)
auto_scale_lr = dict(enable=False, base_batch_size=8)
