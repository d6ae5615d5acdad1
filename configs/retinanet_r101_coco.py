# RetinaNet-R101 on COCO, end-to-end (E2E) baseline of paper Table VIII (§IV-D1a): the R50
# recipe (4x2 images, Adam, lr 4e-5, 100 epochs, from scratch) with a depth-101 backbone, as
# mmdet's retinanet_r101_fpn_1x_coco.py derives from its R50 config.
#   tools/dist_train.sh configs/retinanet_r101_coco.py 4
_base_ = './retinanet_r50_coco.py'

model = dict(backbone=dict(depth=101))
