"""Datasets for mmpretrain, registered in its ``DATASETS``: SVHN and STL-10 (paper §IV-A,
Table I; mmpretrain ships CIFAR-10 and ImageNet but neither of these two; both classes read
the official releases as downloaded, with no conversion step, docs/classification.md);
WikiText-2 (paper §IV-D1d, word level, BPTT windows) for the language model
(docs/language_model.md); scikit-learn's handwritten digits (``DigitsDataset``, the real-data
evidence of docs/evidence.md).

Importing this module needs mmpretrain; the classification configs import it through
``custom_imports=dict(imports=['repl_mm', 'repl_mm.datasets'])``.
"""
from .digits import DigitsDataset
from .small import STL10, SVHN
from .wikitext2 import WikiText2

__all__ = ['SVHN', 'STL10', 'WikiText2', 'DigitsDataset']
