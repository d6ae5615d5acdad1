"""ResNet-34 on ImageNet-1k, the end-to-end (E2E) baseline of Table II (paper §IV-A).

Recipe (§IV-A): SGD, lr 0.2, total batch 512 = 4 GPUs x 128, 90 epochs; 224x224
random-resized crop + horizontal flip to train, resize (short edge 256) + centre crop 224 to
test; top-1 / top-5 accuracy.

    bash tools/dist_train.sh configs/resnet34_imagenet.py 4
    python tools/test.py configs/resnet34_imagenet.py work_dirs/resnet34_imagenet/epoch_90.pth
"""
_base_ = [
    'mmpretrain::_base_/models/resnet34.py',
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    './_base_/schedules/imagenet_sgd_90e.py',
    './_base_/cls_runtime.py',
]

train_dataloader = dict(batch_size=128)  # per GPU; x4 GPUs = 512
