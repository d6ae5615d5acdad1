"""One descriptor per toolbox: everything repl_mm needs to know about mmdet, mmseg or
mmpretrain, in one place.

Each adapter module (:mod:`.mmdet`, :mod:`.mmseg`, :mod:`.mmpretrain`) declares its RepL
classes and one :class:`Toolbox`; the runtime (train/test CLI), the analysis package and the
checkpoint converter ask :func:`get_toolbox` instead of branching on the scope name.
"""
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from ..utils.envcheck import check_versions

__all__ = ['Toolbox', 'TOOLBOX_SCOPES', 'AVAILABLE', 'get_toolbox', 'import_adapters',
           'set_draw_hook']

#: Every toolbox repl_mm serves: config ``default_scope`` -> importable package.
TOOLBOX_SCOPES: Dict[str, str] = {'mmdet': 'mmdet', 'mmseg': 'mmseg',
                                  'mmpretrain': 'mmpretrain'}
#: The scopes whose toolbox is installed and whose adapter has been imported.
AVAILABLE: List[str] = []

#: ``make_batch(model, batch_size, input_size, device, dtype, generator)``
BatchFn = Callable[[nn.Module, int, Tuple[int, int], Any, torch.dtype, torch.Generator],
                   Tuple[Tensor, list]]


@dataclass(frozen=True)
class Toolbox:
    """What repl_mm knows about one OpenMMLab toolbox.

    Args:
        scope (str): the registry scope / config ``default_scope`` (``'mmdet'``).
        package (str): the importable package.
        registry: the toolbox's ``MODELS`` registry.
        make_samples (Callable): ``(num_classes, batch_size, (h, w), device, generator) ->
            list`` of ground-truth data samples that ``model.loss`` accepts (class labels,
            boxes, label maps).
        class_heads (tuple[str]): where the toolbox's models keep ``num_classes``
            (dotted module paths, tried in order; a digit indexes a ``ModuleList``).
        visualization_hook (str): the type of the toolbox's ``default_hooks.visualization``.
        prepare_config (Callable, optional): ``(cfg) -> None``: what the toolbox's own
            ``tools/train.py`` / ``test.py`` set before ``--cfg-options`` are merged.
        show_dir (Callable): ``(cfg, hook, args) -> None``: makes ``--show`` / ``--show-dir``
            / ``--interval`` reach the visualization hook.
        dump_results (Callable, optional): ``(runner, out) -> None``: ``--out`` for
            toolboxes that dump predictions through a metric (mmseg writes through its
            evaluator instead: ``test_out_args``).
        test_out_args (Callable, optional): ``(cfg, out) -> None`` for that case.
        before_build (Callable, optional): ``(cfg) -> None`` run before the Runner is built.
        default_tta_model (dict, optional): ``--tta``'s model wrapper when the config has no
            ``tta_model`` (flip TTA); None: the config must define ``tta_model`` and
            ``tta_pipeline``.
        tta_pack (dict, optional): the packing transform of the default flip TTA pipeline
            (None: the test pipeline's own last transform).
    """
    scope: str
    package: str
    registry: Any
    make_samples: Callable[..., list]
    visualization_hook: str
    show_dir: Callable[..., None]
    class_heads: Tuple[str, ...] = ()
    default_num_classes: Optional[int] = None
    prepare_config: Optional[Callable[..., None]] = None
    dump_results: Optional[Callable[..., None]] = None
    test_out_args: Optional[Callable[..., None]] = None
    before_build: Optional[Callable[..., None]] = None
    default_tta_model: Optional[dict] = None
    tta_pack: Optional[dict] = None

    def make_batch(self, model: nn.Module, batch_size: int, input_size: Tuple[int, int],
                   device='cpu', dtype: torch.dtype = torch.float32,
                   seed: int = 0) -> Tuple[Tensor, list]:
        """Random normalised images ``(B, 3, H, W)`` and matching ground truth for
        ``model.loss`` (deterministic in ``seed``)."""
        g = torch.Generator().manual_seed(seed)
        h, w = input_size
        x = torch.randn(batch_size, 3, h, w, generator=g).to(device=device, dtype=dtype)
        return x, self.make_samples(self.num_classes(model), batch_size, (h, w), device, g)

    def num_classes(self, model: nn.Module) -> int:
        """``num_classes`` of the model's (first) head, searched in ``class_heads``.

        Raises:
            ValueError: naming the model class and the attributes tried.
        """
        for path in self.class_heads:
            node = model
            for part in path.split('.'):
                if isinstance(node, nn.ModuleList) and part.isdigit():
                    node = node[int(part)] if int(part) < len(node) else None
                else:
                    node = getattr(node, part, None)
                if node is None:
                    break
            classes = getattr(node, 'num_classes', None)
            if isinstance(classes, int) and classes > 0:
                return classes
        if self.default_num_classes is not None:
            return self.default_num_classes
        raise ValueError(f'{type(model).__name__}: no head with num_classes at '
                         f'{" / ".join(self.class_heads)}; cannot make {self.scope} ground truth')


def set_draw_hook(hook, args) -> None:
    """``--show`` / ``--interval`` on a drawing hook (mmdet ``DetVisualizationHook``, mmseg
    ``SegVisualizationHook``): it draws, shows if asked, every ``interval`` samples."""
    hook['draw'] = True
    if getattr(args, 'show', False):
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    # mmseg's hook draws every `interval`-th test batch (default 50: nothing on a small set)
    hook['interval'] = getattr(args, 'interval', None) or 1


def get_toolbox(scope: str) -> Toolbox:
    """The :class:`Toolbox` of ``scope``, importing its adapter.

    Raises:
        ValueError: ``scope`` is not one repl_mm serves, or its toolbox is not installed;
            the message names the scope and the available ones.
    """
    if scope not in TOOLBOX_SCOPES:
        raise ValueError(f'scope (default_scope) must be one of {tuple(TOOLBOX_SCOPES)}, '
                         f'got {scope!r}')
    import_adapters()
    if scope not in AVAILABLE:
        raise ValueError(f'{scope} is not installed, so repl_mm has no adapter for scope '
                         f'{scope!r}; available: {AVAILABLE} (install {TOOLBOX_SCOPES[scope]})')
    return importlib.import_module(f'{__package__}.{scope}').TOOLBOX


def import_adapters() -> List[str]:
    """Imports the adapter of each installed toolbox; returns their scope names.

    A toolbox that is not installed is skipped; any other import error is raised. Before the
    first toolbox is imported, the installed versions are checked against each other
    (:func:`repl_mm.utils.envcheck.check_versions`: e.g. mmdet 3.3 with mmcv >= 2.2 is one clear
    ``IncompatibleVersionsError`` naming both and the fix, not the toolbox's own assert).
    That is the only version error at import, and only where the toolbox itself would refuse to
    import (OneDL's forks with their own asserts,
    :data:`repl_mm.utils.envcheck.ONEDL_TOOLBOX_RANGES`);
    a version outside what the support matrix tested is a WARNING of ``tools/check_env.py``
    (:func:`repl_mm.utils.envcheck.tested_warnings`), never an exception here.
    """
    if len(AVAILABLE) < len(TOOLBOX_SCOPES):
        check_versions()
    for scope, package in TOOLBOX_SCOPES.items():
        if scope in AVAILABLE:
            continue
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as e:
            if e.name == package:
                continue
            raise
        importlib.import_module(f'{__package__}.{scope}')
        AVAILABLE.append(scope)
    return AVAILABLE
