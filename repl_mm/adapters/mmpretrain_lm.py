"""The WikiText-2 language model of paper §IV-D1d in the mmpretrain scope.

Registers ``TransformerLM``, ``TransformerLMRepL`` and ``LMDataPreprocessor`` in mmpretrain's
``MODELS``; importing it also registers ``WikiText2`` (``DATASETS``), ``Perplexity``
(``METRICS``) and ``VocabularyCheckHook`` (``HOOKS``). The LM configs import it through
``custom_imports=dict(imports=['repl_mm', 'repl_mm.adapters.mmpretrain_lm'])``.
"""
from mmpretrain.registry import MODELS

from .. import (
    datasets,  # noqa: F401  (WikiText2)
    evaluation,  # noqa: F401  (Perplexity, VocabularyCheckHook)
)
from ..models.transformer_lm import LMDataPreprocessor, TransformerLM, TransformerLMRepL

__all__ = ['TransformerLM', 'TransformerLMRepL', 'LMDataPreprocessor']

for _cls in (TransformerLM, TransformerLMRepL, LMDataPreprocessor):
    MODELS.register_module(module=_cls)
