"""Turn a stock end-to-end (E2E) ResNet checkpoint into a RepL initialisation.

RepL keeps the stock key of every retained block (``layer3.2.conv1.weight``); the prefix of
a removed block (eq. 16) holds its computing layer instead (``layer3.3.synthesis.alpha``,
``layer3.3.norm.*``). Converting an E2E checkpoint therefore means:

* retained blocks, stem and head: copied tensor for tensor;
* removed blocks: dropped (the RepL network does not have them);
* computing layers: taken from a freshly built RepL backbone, i.e. the synthesis
  coefficients at their initial value (alpha = beta = 0.5) and the BN at its defaults.

Two source layouts are understood (the names inside a ResNet are the same in both: mm's
``build_norm_layer`` names a BN ``bn1``/``bn2``/``bn3`` exactly like torchvision, and the
shortcut is ``downsample.0`` / ``downsample.1`` in both):

* ``'torchvision'``: unprefixed backbone keys (``layer1.0.conv1.weight``, ``bn1.weight``)
  and ``fc.*`` for the classifier; also any unprefixed mm backbone checkpoint;
* ``'mmpretrain'``: ``backbone.*`` plus ``head.fc.*`` (and possibly ``neck.*``).

The result is written in mmpretrain layout (``backbone.`` prefix under ``state_dict``), so
``init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)`` loads it into the
backbone of a detector or segmentor, and the whole file loads into a RepL
``ImageClassifier``.
"""
import importlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from torch import Tensor, nn

from ..adapters import build_in_scope, get_toolbox
from ..core.stage import computing_layers

__all__ = ['LAYOUTS', 'RESNET_TYPES', 'ConversionReport', 'unwrap_state_dict', 'detect_layout',
           'split_source', 'convert_e2e_to_repl', 'build_repl_target', 'convert_checkpoint']

LAYOUTS = ('torchvision', 'mmpretrain')
RESNET_TYPES = ('ResNetRepL', 'ResNetV1cRepL', 'ResNetV1dRepL')


@dataclass
class ConversionReport:
    """What :func:`convert_e2e_to_repl` did, key by key.

    Attributes:
        layout (str): the detected source layout.
        copied (list[tuple[str, str]]): ``(source key, output key)`` of every copied tensor.
        dropped (list[str]): source keys of the removed blocks.
        initialised (list[str]): output keys of the computing layers (fresh RepL values).
        unused (list[str]): other source keys with no counterpart in the target (e.g. a
            classifier head of another size).
        missing (list[str]): output keys of retained tensors the source could not give
            (only with ``strict=False``; they keep the fresh values).
        removal_plan (list[list[int]]): the 0-based removed blocks of each stage.
    """
    layout: str
    copied: List[Tuple[str, str]] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    initialised: List[str] = field(default_factory=list)
    unused: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    removal_plan: List[List[int]] = field(default_factory=list)

    def summary(self, verbose: bool = True) -> str:
        """A printable account: counts and, if ``verbose``, every key."""
        lines = [f'source layout: {self.layout}',
                 f'removal plan (0-based blocks removed per stage): {self.removal_plan}',
                 f'mapped {len(self.copied)} tensors']
        if verbose:
            lines += [f'  {s} -> {d}' for s, d in self.copied]
        lines.append(f'dropped {len(self.dropped)} tensors of removed blocks')
        if verbose:
            lines += [f'  {k}' for k in self.dropped]
        lines.append(f'initialised {len(self.initialised)} computing-layer tensors '
                     '(alpha = beta = 0.5, BN defaults)')
        if verbose:
            lines += [f'  {k}' for k in self.initialised]
        lines.append(f'unused {len(self.unused)} source tensors')
        lines += [f'  {k}' for k in self.unused]
        if self.missing:
            lines.append(f'missing {len(self.missing)} retained tensors (kept fresh values)')
            lines += [f'  {k}' for k in self.missing]
        return '\n'.join(lines)


def unwrap_state_dict(checkpoint: dict) -> Dict[str, Tensor]:
    """The tensor dict of a checkpoint: ``checkpoint['state_dict']`` or ``['model']`` if
    present, else the checkpoint itself; a ``module.`` prefix (DataParallel) is removed."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint must be a dict of tensors or hold one under '
                         f"'state_dict' / 'model', got {type(checkpoint).__name__}")
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    state = OrderedDict()
    for k, v in checkpoint.items():
        if isinstance(v, Tensor):
            state[k[len('module.'):] if k.startswith('module.') else k] = v
    if not state:
        raise ValueError('checkpoint holds no tensors')
    return state


def detect_layout(state: Dict[str, Tensor]) -> str:
    """``'mmpretrain'`` if any key starts with ``backbone.``, else ``'torchvision'``."""
    return 'mmpretrain' if any(k.startswith('backbone.') for k in state) else 'torchvision'


def split_source(state: Dict[str, Tensor], layout: Optional[str] = None
                 ) -> Tuple[str, 'OrderedDict[str, Tuple[str, Tensor]]',
                            'OrderedDict[str, Tuple[str, Tensor]]']:
    """Splits a source state dict into backbone and non-backbone parts in mm naming.

    Args:
        state (dict): the unwrapped source tensors.
        layout (str, optional): one of :data:`LAYOUTS`; detected if None.

    Returns:
        tuple: ``(layout, backbone, others)``; ``backbone`` maps an unprefixed backbone
        key (``layer1.0.conv1.weight``) and ``others`` an output key (``head.fc.weight``)
        to ``(source key, tensor)``.
    """
    if layout is None:
        layout = detect_layout(state)
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    backbone, others = OrderedDict(), OrderedDict()
    for key, value in state.items():
        if layout == 'mmpretrain':
            if key.startswith('backbone.'):
                backbone[key[len('backbone.'):]] = (key, value)
            else:
                others[key] = (key, value)
        elif key.startswith('fc.'):
            others['head.' + key] = (key, value)
        else:
            backbone[key] = (key, value)
    return layout, backbone, others


def _removed_prefixes(backbone: nn.Module) -> List[str]:
    plan = getattr(backbone, 'removal_plan', None)
    names = getattr(backbone, 'res_layers', None)
    if plan is None or names is None:
        raise ValueError(f'the target backbone must be a RepL ResNet (one of {RESNET_TYPES} '
                         f'or CifarResNetRepL, with a removal_plan), got '
                         f'{type(backbone).__name__}')
    return [f'{name}.{i}.' for name, removed in zip(names, plan) for i in removed]


def convert_e2e_to_repl(state: Dict[str, Tensor], backbone: nn.Module,
                        head_state: Optional[Dict[str, Tensor]] = None,
                        layout: Optional[str] = None, strict: bool = True
                        ) -> Tuple['OrderedDict[str, Tensor]', ConversionReport]:
    """Maps an E2E ResNet state dict onto a freshly built RepL backbone.

    Args:
        state (dict): source tensors (see :func:`unwrap_state_dict`).
        backbone (nn.Module): the target RepL ResNet, freshly built: its computing layers
            supply the values of the keys the source cannot (alpha = beta = 0.5 from
            :class:`~repl_mm.core.synthesis.SynthesisCoefficients`, BN defaults).
        head_state (dict, optional): the target's non-backbone tensors (e.g. ``head.fc.*``
            of the classifier the output is meant for). A source head tensor is kept only if
            this has the same key and shape; None keeps every non-backbone source tensor.
        layout (str, optional): source layout, one of :data:`LAYOUTS`; detected if None.
        strict (bool): raise if a retained backbone tensor is missing from the source or
            has another shape. With False such tensors keep the fresh values (listed under
            ``missing``).

    Returns:
        tuple: the output state dict in mmpretrain layout (``backbone.*``, ``head.*``) and
        a :class:`ConversionReport`.
    """
    layout, src_backbone, src_others = split_source(state, layout)
    removed = _removed_prefixes(backbone)
    computing = [name + '.' for name, _ in computing_layers(backbone)]
    report = ConversionReport(layout=layout,
                              removal_plan=[list(p) for p in backbone.removal_plan])
    out = OrderedDict()
    problems = []
    for key, fresh in backbone.state_dict().items():
        if any(key.startswith(p) for p in computing):
            out['backbone.' + key] = fresh.clone()
            report.initialised.append('backbone.' + key)
            continue
        if key not in src_backbone:
            problems.append(f'{key} is not in the source')
        elif tuple(src_backbone[key][1].shape) != tuple(fresh.shape):
            problems.append(f'{key} has shape {tuple(src_backbone[key][1].shape)} in the '
                            f'source, {tuple(fresh.shape)} in the target')
        else:
            src_key, value = src_backbone.pop(key)
            out['backbone.' + key] = value.clone()
            report.copied.append((src_key, 'backbone.' + key))
            continue
        if not strict:
            out['backbone.' + key] = fresh.clone()
            report.missing.append('backbone.' + key)
    if problems and strict:
        shown = '; '.join(problems[:8]) + (' ...' if len(problems) > 8 else '')
        raise ValueError(
            f'{len(problems)} retained tensors of the target {type(backbone).__name__} cannot '
            f'be taken from the {layout} source: {shown}. The source must be the E2E version '
            f'of the same network (same depth and stem: a torchvision ResNet has the plain '
            f'stem of ResNet/ResNetRepL, not the deep stem of V1c/V1d); pass strict=False to '
            f'keep fresh values for them')
    for key, (src_key, value) in src_backbone.items():
        if any(key.startswith(p) for p in removed):
            report.dropped.append(src_key)
        else:
            report.unused.append(src_key)
    for key, (src_key, value) in src_others.items():
        if head_state is None or (key in head_state
                                  and tuple(head_state[key].shape) == tuple(value.shape)):
            out[key] = value.clone()
            report.copied.append((src_key, key))
        else:
            report.unused.append(src_key)
    return out, report


def build_repl_target(config: Optional[str] = None, depth: Optional[int] = None,
                      interval: Optional[int] = 4,
                      replace_blocks: Optional[Sequence[Sequence[int]]] = None,
                      backbone_type: str = 'ResNetRepL',
                      cfg_options: Optional[dict] = None
                      ) -> Tuple[nn.Module, Optional[Dict[str, Tensor]]]:
    """Builds the freshly initialised RepL target of a conversion.

    Args:
        config (str, optional): an mm config whose ``model`` (a classifier, detector or
            segmentor in its ``default_scope``, or a bare backbone) has a RepL ResNet
            backbone. Its non-backbone tensors become ``head_state``.
        depth (int, optional): without ``config``: build mmpretrain's ``backbone_type`` of
            this depth (18, 34, 50, 101, 152); ``head_state`` is then None.
        interval (int | None): replacement interval K (eq. 16), used with ``depth``.
        replace_blocks (list[list[int]], optional): explicit plan, used with ``depth``.
        backbone_type (str): one of :data:`RESNET_TYPES`, used with ``depth``.
        cfg_options (dict, optional): ``Config.merge_from_dict`` overrides for ``config``.

    Returns:
        tuple: ``(backbone, head_state)``.
    """
    if (config is None) == (depth is None):
        raise ValueError('give exactly one of config (an mm config file) or depth '
                         f'(18, 34, 50, 101, 152), got config={config!r}, depth={depth!r}')
    if config is None:
        if backbone_type not in RESNET_TYPES:
            raise ValueError(f'backbone_type must be one of {RESNET_TYPES}, '
                             f'got {backbone_type!r}')
        registry = get_toolbox('mmpretrain').registry
        return registry.get(backbone_type)(depth=depth, interval=interval,
                                           replace_blocks=replace_blocks), None

    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    toolbox = get_toolbox(cfg.get('default_scope', 'mmpretrain'))
    importlib.import_module(f'{toolbox.package}.utils').register_all_modules(
        init_default_scope=False)
    model = build_in_scope(cfg.model.copy(), toolbox.scope)
    if hasattr(model, 'backbone'):
        backbone = model.backbone
        head_state = OrderedDict((k, v) for k, v in model.state_dict().items()
                                 if not k.startswith('backbone.'))
        return backbone, head_state
    return model, None


def convert_checkpoint(src: str, dst: str, layout: Optional[str] = None,
                       strict: bool = True, **target_kwargs) -> ConversionReport:
    """Reads ``src``, converts it (see :func:`convert_e2e_to_repl`) for the target built by
    :func:`build_repl_target` from ``target_kwargs``, writes ``dst`` as
    ``{'state_dict': ..., 'meta': ...}`` (tensors and plain values only) and returns the
    report. ``src`` is read with ``torch.load(weights_only=True)`` under the mmengine
    allowlist of :func:`repl_mm.engine.fileio.safe_load.safe_torch_load`. ``dst`` is never ``src``
    (also through a symlink) and is written atomically."""
    from .fold import check_output_path, load_checkpoint_file
    check_output_path(src, dst, force=True, arg='dst')
    if target_kwargs.get('config') is not None:
        from ..utils.inputs import check_config_file
        check_config_file(target_kwargs['config'])
    checkpoint = load_checkpoint_file(src)
    state = unwrap_state_dict(checkpoint)
    backbone, head_state = build_repl_target(**target_kwargs)
    out, report = convert_e2e_to_repl(state, backbone, head_state, layout=layout,
                                      strict=strict)
    meta = dict(converted_from=str(src), source_layout=report.layout,
                removal_plan=report.removal_plan, repl_target=type(backbone).__name__)
    from .fold import atomic_save
    atomic_save({'state_dict': out, 'meta': meta}, dst)
    return report
