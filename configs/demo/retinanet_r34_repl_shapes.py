# Demo RepL twin of retinanet_r34_shapes.py: the same detector and recipe with ResNetRepL.
# The interval rule (eq. 16) removes nothing from BasicBlock stages this short at K >= 4, so the
# demo names its plan explicitly: blocks 1 | 2 | 2, 4 | - of the stages (3, 4, 6, 3) -- 4 of 16
# blocks, the paper's 25% -- each replaced by a BasicBlock computing layer (eq. 8-11). Stage 4
# keeps all blocks: its block 1 would border the width-changing transition block.
_base_ = './retinanet_r34_shapes.py'

model = dict(backbone=dict(type='ResNetRepL', replace_blocks=[[1], [2], [2, 4], []]))
