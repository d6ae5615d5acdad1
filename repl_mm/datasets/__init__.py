"""SVHN and STL-10 for mmpretrain (paper §IV-A, Table I), registered in mmpretrain's
``DATASETS``. mmpretrain ships CIFAR-10 and ImageNet but neither of these two; both classes
read the official releases as downloaded, with no conversion step (docs/classification.md).
WikiText-2 (paper §IV-D1d, word level, BPTT windows) for the language model
(docs/language_model.md).

Importing this module needs mmpretrain; the classification configs import it through
``custom_imports=dict(imports=['repl_mm', 'repl_mm.datasets'])``.
"""
from .small import STL10, SVHN
from .wikitext2 import WikiText2

__all__ = ['SVHN', 'STL10', 'WikiText2']
