"""ResNet-101-V1c on ImageNet-1k, ImageNet pretraining of the deep-stem (V1c) backbone that the
CityScapes configs ``deeplabv3*_r101_cityscapes.py`` fine-tune (Table XIV, §IV-D1g; see
docs/segmentation.md); the same recipe as the paper's ImageNet ResNets.

Recipe (§IV-A): SGD, lr 0.2, total batch 512 = 4 GPUs x 128, 90 epochs; 224x224
random-resized crop + horizontal flip to train, resize (short edge 256) + centre crop 224 to
test; top-1 / top-5 accuracy.

    bash tools/dist_train.sh configs/resnet101-v1c_imagenet.py 4
    python tools/test.py configs/resnet101-v1c_imagenet.py \\
        work_dirs/resnet101-v1c_imagenet/epoch_90.pth
"""
_base_ = [
    'mmpretrain::_base_/models/resnetv1c50.py',
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    './_base_/schedules/imagenet_sgd_90e.py',
    './_base_/cls_runtime.py',
]
# mmseg's ResNetV1c (not mmpretrain's): its deep-stem keys (stem.0/1/3/4/6/7) are the ones
# the DeepLab backbones load; mmpretrain's ConvModule stem is named stem.0.conv/stem.0.bn
model = dict(backbone=dict(type='mmseg.ResNetV1c', depth=101))

train_dataloader = dict(batch_size=128)  # per GPU; x4 GPUs = 512
