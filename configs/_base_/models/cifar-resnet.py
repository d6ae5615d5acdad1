"""CIFAR ResNet-(6n+2) classifier of the paper's small-scale experiments (§IV-A): the
``CifarResNet`` backbone (16/32/64 channels, repl_mm.models.cifar_resnet), global average
pooling and a linear head for 10 classes. Leaf configs set ``depth`` (32 or 110)."""
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', depth=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
