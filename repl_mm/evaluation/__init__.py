"""Evaluation for the language model of paper §IV-D1d: the perplexity metric and the hook
that ties a checkpoint's vocabulary and form to the model and data (both registered in
mmpretrain's scope)."""
from .language_model import (
                             CheckpointFormError,
                             Perplexity,
                             VocabularyCheckHook,
                             VocabularyMismatchError,
)

__all__ = ['Perplexity', 'VocabularyCheckHook', 'VocabularyMismatchError', 'CheckpointFormError']
