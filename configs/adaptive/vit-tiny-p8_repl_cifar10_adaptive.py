"""Table XV Adaptive-RepL (paper §IV-D1h): ViT-Tiny/8 on CIFAR-10.

Computing layers on all 10 internal transformer blocks (1-10 of 12), |F| = 2 (the K = 4 plan [3,
7]). Every block keeps its weights; at the first iteration of every epoch ``AdaptiveRepLHook``
scores each candidate (input-output cosine similarity on that batch, all blocks run) and
replaces the |F| most redundant non-adjacent ones for the epoch (eq. 34: sum_i m_i = |F|). The
mask is logged and kept in every checkpoint, so ``--resume`` and tools/test.py use it. It costs
more memory than fixed RepL: all blocks, their optimizer state and a computing layer per
candidate are kept (docs/ablations.md, Table XV).

Differs from ``vit-tiny-p8_repl_cifar10.py`` in ``model.backbone.adaptive``, the hook, its
import and ``find_unused_parameters`` (replaced blocks and idle computing layers get no
gradient, which DDP must be told).

    python tools/train.py configs/adaptive/vit-tiny-p8_repl_cifar10_adaptive.py
"""
_base_ = '../vit-tiny-p8_repl_cifar10.py'

custom_imports = dict(imports=['repl_mm', 'repl_mm.datasets', 'repl_mm.engine.hooks.adaptive_repl_hook'],
                      allow_failed_imports=False)
model = dict(backbone=dict(adaptive=True))
# the parent's hooks (configs/_base_/cls_runtime.py) plus the Adaptive-RepL mask hook
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RNGStateHook'),
                dict(type='PreemptionCheckpointHook'), dict(type='ModelFingerprintHook'),
                dict(type='AdaptiveRepLHook')]
find_unused_parameters = True
