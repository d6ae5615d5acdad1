# Demo (make demo, tools/misc/demo_detection.py): a small RetinaNet trained end-to-end (E2E) from
# scratch on the synthetic COCO-format shapes set of repl_mm.testing.synthetic_coco, small
# enough for a CPU: 128 px images, ResNet-34 layout (3, 4, 6, 3 BasicBlocks) at a quarter of
# the width (base_channels=16), FPN and head at 64 channels with 2 stacked convs.
# The RepL twin is retinanet_r34_repl_shapes.py. Data root: SHAPES_ROOT=/path/ (environment).
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

data_root = '{{$SHAPES_ROOT:data/shapes_coco/}}'
classes = ('rectangle', 'ellipse', 'triangle')
metainfo = dict(classes=classes)
image_size = 128
max_epochs = 24

model = dict(
    backbone=dict(depth=34, base_channels=16, init_cfg=None, frozen_stages=-1, norm_eval=False),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    bbox_head=dict(
        num_classes=len(classes), in_channels=64, feat_channels=64, stacked_convs=2,
        # shapes are 20-56 px: base anchors of 3 x stride (24 px at stride 8)
        anchor_generator=dict(octave_base_scale=3)),
    test_cfg=dict(nms_pre=200, max_per_img=20))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# Adam as in the paper's detection recipe, with a learning rate for a tiny set and few epochs
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(_delete_=True, type='Adam', lr=1e-3, weight_decay=0.0))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=4),
    checkpoint=dict(type='SafeCheckpointHook', interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=4)
randomness = dict(seed=0)
