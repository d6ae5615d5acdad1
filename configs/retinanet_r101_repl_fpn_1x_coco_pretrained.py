# RetinaNet-R101-RepL on mmdet's standard 1x recipe with ImageNet-pretrained torchvision
# ResNet-101 (see retinanet_r50_repl_fpn_1x_coco_pretrained.py). The five removed blocks' keys
# (layer3.3/.7/.11/.15/.19.*) are unexpected when loading; their computing layers start fresh.
_base_ = 'mmdet::retinanet/retinanet_r101_fpn_1x_coco.py'

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
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

data_root = '{{$COCO_ROOT:data/coco/}}'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

model = dict(backbone=dict(type='ResNetRepL', interval=4))
