# RetinaNet-R50-RepL on COCO (paper Table VIII, "RetinaNet-R50*"): the E2E twin
# retinanet_r50_coco.py with the backbone swapped for ResNetRepL, interval K=4 (eq. 16). For the
# R50 stages (3, 4, 6, 3) this removes block 4 of stage 3 (layer3.3) and puts a Bottleneck
# computing layer in its place (eq. 13-15). Nothing else differs from the twin.
#   tools/dist_train.sh configs/retinanet_r50_repl_coco.py 4
_base_ = './retinanet_r50_coco.py'

model = dict(backbone=dict(type='ResNetRepL', interval=4))
