"""A removal plan for a fraction of a config's blocks (Tables III-IV, "-25% layers").

The interval rule (eq. 16) cannot express "remove 25 % of the blocks" (``K = 4`` removes 3 of
ResNet-32's 15 blocks, 1 of ResNet-34's 16). :func:`fraction_replace_blocks` reads a config's
backbone layout (blocks per stage, Bottleneck or not) and returns the
:func:`~repl_mm.core.plan.fraction_plan` for it in the form that backbone's
``replace_blocks`` takes (one list per stage for ResNets, a flat list for ViTs).
``tools/analysis_tools/plan.py CONFIG --remove-fraction 0.25`` prints it with its predicted savings.
"""
import copy
from typing import Dict, List, Optional, Tuple, Union

from mmengine.config import Config
from torch import nn

from ..core.plan import fraction_plan

__all__ = ['stage_layout', 'fraction_replace_blocks', 'remove_fraction_options']

#: RepL arguments cleared to build the full (nothing removed) backbone whose layout is read
_PLAN_ARGS = ('interval', 'replace_blocks', 'remove_only', 'deploy', 'adaptive')


def stage_layout(backbone: nn.Module) -> Tuple[List[int], List[bool], bool]:
    """Blocks per stage, Bottleneck flags and whether ``replace_blocks`` is flat (ViT).

    Args:
        backbone (nn.Module): a built ResNet-style backbone (``res_layers``) or ViT
            (``layers``) with nothing removed.

    Raises:
        ValueError: the backbone has neither layout.
    """
    if hasattr(backbone, 'res_layers'):
        stages = [getattr(backbone, name) for name in backbone.res_layers]
        return ([len(s) for s in stages],
                [hasattr(s[0], 'conv3') for s in stages], False)
    layers = getattr(backbone, 'layers', None)
    if isinstance(layers, nn.ModuleList):
        return [len(layers)], [False], True
    raise ValueError(f'{type(backbone).__name__} has neither res_layers (ResNet) nor a '
                     'layers ModuleList (ViT): no removal plan can be made for it')


def _full_backbone(cfg: Config) -> nn.Module:
    """The config's backbone with nothing removed, built on the meta device (shapes only)
    where it can be, on the CPU otherwise."""
    from ..adapters import build_in_scope
    from ..engine.runner.scope import setup_scope
    scope = setup_scope(cfg)
    bb = copy.deepcopy(cfg.model['backbone'])
    bb = bb.to_dict() if hasattr(bb, 'to_dict') else dict(bb)
    for key in _PLAN_ARGS:
        bb.pop(key, None)
    if str(bb.get('type', '')).endswith('RepL'):
        bb['interval'] = None
    bb.pop('init_cfg', None)
    return build_in_scope(bb, scope, device='meta')


def fraction_replace_blocks(cfg: Config, fraction: float
                            ) -> Tuple[Union[List[int], List[List[int]]], Dict[str, object]]:
    """The ``replace_blocks`` value removing ``fraction`` of the config's backbone blocks.

    Args:
        cfg (Config): an mm config with ``model.backbone`` and ``default_scope``.
        fraction (float): in ``[0, 1)``.

    Returns:
        tuple: the plan (flat list for a ViT) and a summary dict (``removed``, ``blocks``,
        ``max_removable``, ``fraction``).
    """
    lengths, bottleneck, flat = stage_layout(_full_backbone(cfg))
    plan = fraction_plan(lengths, fraction, bottleneck)
    most = fraction_plan(lengths, 1 - 1e-9, bottleneck)
    removed = sum(len(p) for p in plan)
    info = dict(removed=removed, blocks=sum(lengths), fraction=fraction,
                max_removable=sum(len(p) for p in most), stage_blocks=lengths,
                bottleneck=bottleneck)
    return (plan[0] if flat else plan), info


def remove_fraction_options(config: str, fraction: float,
                            cfg_options: Optional[dict] = None) -> Dict[str, object]:
    """``--cfg-options`` that put the fraction plan into ``config``; prints the plan line.

    Args:
        config (str): a RepL config file.
        fraction (float): the fraction of all blocks to remove.
        cfg_options (dict, optional): other overrides, applied first.

    Returns:
        dict: ``{'model.backbone.replace_blocks': plan}``.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    plan, info = fraction_replace_blocks(cfg, fraction)
    print(f"--remove-fraction {fraction:g}: replace_blocks={plan} removes {info['removed']} "
          f"of {info['blocks']} blocks ({info['removed'] / info['blocks']:.1%}), the count "
          f"nearest to {fraction:.1%} that the rules allow (first/last block of a stage kept, "
          f"no two adjacent, Bottleneck stages keep block 1; at most "
          f"{info['max_removable']} removable)")
    return {'model.backbone.replace_blocks': plan}
