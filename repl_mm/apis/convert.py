"""A stock end-to-end ResNet checkpoint -> a RepL initialisation, for users."""
from typing import Optional, Sequence

from ..deploy.convert import ConversionReport
from ..deploy.convert import convert_checkpoint as _convert
from ..utils.config import config_path

__all__ = ['convert_checkpoint']


def convert_checkpoint(src: str, dst: str, config: Optional[str] = None,
                       depth: Optional[int] = None, interval: Optional[int] = 4,
                       replace_blocks: Optional[Sequence[Sequence[int]]] = None,
                       backbone_type: str = 'ResNetRepL', layout: Optional[str] = None,
                       strict: bool = True, cfg_options: Optional[dict] = None
                       ) -> ConversionReport:
    """Converts the E2E checkpoint ``src`` (torchvision or mmpretrain layout) for a RepL
    target and writes ``dst`` atomically (never ``src``): retained blocks copied, removed
    blocks (eq. 16) dropped, computing layers freshly initialised
    (:func:`repl_mm.deploy.convert.convert_checkpoint`).

    Args:
        src, dst (str): the stock checkpoint and the output file.
        config (str, optional): the RepL config to convert for (its whole model: the head
            tensors of ``src`` are kept where they fit). Exactly one of ``config``/``depth``.
        depth (int, optional): without ``config``: mmpretrain's ``backbone_type`` of this
            depth (18, 34, 50, 101, 152) with ``interval`` / ``replace_blocks``.
        layout (str, optional): ``'torchvision'`` or ``'mmpretrain'`` (default: detected).
        strict (bool): refuse a source that lacks a retained tensor (naming it).
        cfg_options (dict, optional): overrides of ``config``.

    Returns:
        ConversionReport: every key copied, dropped, initialised, unused.
    """
    if config is not None:
        config = config_path(config)
    return _convert(src, dst, layout=layout, strict=strict, config=config, depth=depth,
                    interval=interval, replace_blocks=replace_blocks,
                    backbone_type=backbone_type, cfg_options=cfg_options)
