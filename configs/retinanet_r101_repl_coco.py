# RetinaNet-R101-RepL on COCO (paper Table VIII, "RetinaNet-R101*"): the E2E twin
# retinanet_r101_coco.py with the backbone swapped for ResNetRepL, interval K=4 (eq. 16). For the
# R101 stages (3, 4, 23, 3) this removes blocks 4, 8, 12, 16, 20 of stage 3 (layer3.3, .7, .11,
# .15, .19), each replaced by a Bottleneck computing layer (eq. 13-15). Nothing else differs.
#   tools/dist_train.sh configs/retinanet_r101_repl_coco.py 4
#   tools/dist_test.sh configs/retinanet_r101_repl_coco.py CHECKPOINT 4
_base_ = './retinanet_r101_coco.py'

model = dict(backbone=dict(type='ResNetRepL', interval=4))
