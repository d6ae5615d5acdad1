"""The toolbox-independent RepL mechanics, written once and shared by every backbone."""
from .cnn import (BasicBlockComputingLayer, BottleneckComputingLayer, ComputingLayer,
                  fold_batchnorm)
from .plan import interval_plan, removal_plan, validate_plan
from .stage import RepLStage, computing_layers
from .synthesis import SynthesisCoefficients, normalize_rows, stop_gradient

__all__ = ['BasicBlockComputingLayer', 'BottleneckComputingLayer', 'ComputingLayer',
           'fold_batchnorm', 'interval_plan', 'removal_plan', 'validate_plan', 'RepLStage',
           'computing_layers', 'SynthesisCoefficients', 'normalize_rows', 'stop_gradient']

from .vit import (SYNTHESIS_BRANCHES, ViTBlockParts, ViTComputingLayer,  # noqa: E402
                  check_synthesis_branches, transformer_block_parts)

__all__ += ['SYNTHESIS_BRANCHES', 'ViTBlockParts', 'ViTComputingLayer',
            'check_synthesis_branches', 'transformer_block_parts']
