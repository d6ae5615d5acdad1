"""Datasets for mmpretrain, registered in its ``DATASETS``: SVHN and STL-10 (paper §IV-A,
Table I; mmpretrain ships CIFAR-10 and ImageNet but neither of these two; both classes read
the official releases as downloaded, with no conversion step, docs/classification.md), and
scikit-learn's handwritten digits (``DigitsDataset``, the real-data evidence of
docs/evidence.md).

Importing this module needs mmpretrain; the classification configs import it through
``custom_imports=dict(imports=['repl_mm', 'repl_mm.datasets'])``.
"""
from .digits import DigitsDataset
from .small import STL10, SVHN

__all__ = ['SVHN', 'STL10', 'DigitsDataset']
