"""Builds the ``ResNetRepL`` family for one toolbox from that toolbox's ``ResNet``."""
from typing import Tuple, Type

from ..models.resnet import REPL_RESNET_ARGS, RepLResNetMixin


def _named(cls: type, name: str, module: str) -> type:
    cls.__name__ = cls.__qualname__ = name
    cls.__module__ = module  # picklable as ``module.name``
    return cls


def make_resnet_repl_classes(resnet: Type, registry, module: str) -> Tuple[type, type, type]:
    """Returns ``ResNetRepL``, ``ResNetV1cRepL``, ``ResNetV1dRepL`` built on ``resnet`` and
    registers them in ``registry``.

    Args:
        resnet (type): the toolbox's ``ResNet`` class; every one of its arguments is accepted.
        registry (mmengine.Registry): the toolbox's ``MODELS``.
        module (str): the adapter module that will hold the classes (for pickling).
    """
    base_doc = (f'RepL drop-in for ``{resnet.__module__}.ResNet`` (paper §III-B): accepts '
                f'every argument of that class, plus:\n\n    Args:' + REPL_RESNET_ARGS)

    class ResNetRepL(RepLResNetMixin, resnet):
        __doc__ = base_doc

    class ResNetV1cRepL(ResNetRepL):
        __doc__ = ('ResNetV1c-RepL: deep 3-conv stem (``deep_stem=True``), stride-conv '
                   'shortcuts. ' + base_doc)

        def __init__(self, **kwargs) -> None:
            super().__init__(deep_stem=True, avg_down=False, **kwargs)

    class ResNetV1dRepL(ResNetRepL):
        __doc__ = ('ResNetV1d-RepL: deep stem and average-pool shortcuts '
                   '(``deep_stem=True, avg_down=True``). ' + base_doc)

        def __init__(self, **kwargs) -> None:
            super().__init__(deep_stem=True, avg_down=True, **kwargs)

    classes = tuple(_named(c, n, module) for c, n in (
        (ResNetRepL, 'ResNetRepL'), (ResNetV1cRepL, 'ResNetV1cRepL'),
        (ResNetV1dRepL, 'ResNetV1dRepL')))
    for cls in classes:
        registry.register_module(module=cls)
    return classes
