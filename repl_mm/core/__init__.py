"""The toolbox-independent RepL mechanics, written once and shared by every backbone.

* :mod:`.plan`: which blocks are removed (eq. 16);
* :mod:`.synthesis`: neighbour weights -> operator (eq. 9-10, 14, 20, 22, 30);
* :mod:`.layer`: the computing-layer protocol (train form, ``fold``, ``switch_to_deploy``);
* :mod:`.cnn`, :mod:`.vit`: the CNN (eq. 8-15, 32) and transformer (eq. 19-27, 33) layers;
* :mod:`.neighbours`: feeding layers their neighbours (eq. 17); :mod:`.stage`: ``RepLStage``;
* :mod:`.options`: the RepL arguments of every backbone, validated and documented once.
"""
from .cnn import (
                  BasicBlockComputingLayer,
                  BottleneckComputingLayer,
                  ConvComputingLayer,
                  fold_batchnorm,
)
from .layer import ComputingLayer, is_training_layer
from .neighbours import check_layer_positions, fold_layers, forward_layer
from .options import (
                  DEFAULT_INTERVAL,
                  REPL_ARGS_DOC,
                  SYNTHESIS_BRANCHES,
                  TRANSFORMER_REPL_ARGS_DOC,
                  RepLOptions,
                  TransformerRepLOptions,
                  check_synthesis_branches,
)
from .plan import interval_plan, removal_plan, validate_plan
from .stage import RepLStage, computing_layers
from .synthesis import SynthesisCoefficients, normalize_rows, stop_gradient
from .vit import ViTBlockParts, ViTComputingLayer, transformer_block_parts

__all__ = ['BasicBlockComputingLayer', 'BottleneckComputingLayer', 'ConvComputingLayer',
           'fold_batchnorm', 'ComputingLayer', 'is_training_layer', 'check_layer_positions',
           'fold_layers', 'forward_layer', 'DEFAULT_INTERVAL', 'REPL_ARGS_DOC',
           'SYNTHESIS_BRANCHES', 'TRANSFORMER_REPL_ARGS_DOC', 'RepLOptions',
           'TransformerRepLOptions', 'check_synthesis_branches', 'interval_plan',
           'removal_plan', 'validate_plan', 'RepLStage', 'computing_layers',
           'SynthesisCoefficients', 'normalize_rows', 'stop_gradient', 'ViTBlockParts',
           'ViTComputingLayer', 'transformer_block_parts']
