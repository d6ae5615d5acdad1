"""What to benchmark: a RepL model and its E2E twin, from an mm config of any of the three
toolboxes or from a built-in preset (the paper's models, §IV-A, §IV-D1a, §IV-D1g).

* :func:`load_spec`: a config file or a :data:`PRESETS` name -> :class:`ModelSpec` (the model
  config stays a ``ConfigDict``, so the toolboxes' own model classes, which read their
  ``train_cfg.rpn`` or set ``backbone.pretrained`` by attribute, build from any config);
* :func:`e2e_twin`: the same model with the stock backbone class;
* :func:`build_model`, :func:`make_optimizer`: what a benchmark step trains.

What a toolbox is (package, registry) comes from its descriptor,
:func:`repl_mm.adapters.get_toolbox`.
"""
import copy
import importlib
import importlib.util
import os
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from ..adapters import build_in_scope, get_toolbox

__all__ = ['REPL_ARGS', 'PRESETS', 'ModelSpec', 'load_spec', 'e2e_twin',
           'build_model', 'make_optimizer']

#: RepL-only backbone arguments, dropped when an E2E twin is derived from a RepL config.
REPL_ARGS = ('interval', 'replace_blocks', 'neighbours', 'coefficients', 'stop_grad',
             'remove_only', 'deploy', 'synthesis_branches', 'head_wise', 'adaptive')


def _package_config(scope: str, rel: str) -> str:
    """Path of a config shipped inside an installed toolbox (``.mim/configs/<rel>``)."""
    spec = importlib.util.find_spec(get_toolbox(scope).package)
    path = os.path.join(list(spec.submodule_search_locations)[0], '.mim', 'configs', rel)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{scope} does not ship {rel} ({path})')
    return path


def _cls_model(backbone: dict, head: dict, neck: Optional[dict] = None) -> dict:
    return dict(type='ImageClassifier', backbone=backbone, neck=neck, head=head)


def _resnet_head(channels: int, classes: int = 1000) -> dict:
    return dict(type='LinearClsHead', num_classes=classes, in_channels=channels,
                loss=dict(type='CrossEntropyLoss', loss_weight=1.0))


#: Built-in presets: the paper's RepL models (interval K=4), usable where no config file is
#: at hand. ``input_size`` is (H, W); ``optimizer`` the paper's (§IV-A, §IV-D1a, §IV-D1g).
PRESETS: Dict[str, dict] = {
    'resnet32-cifar': dict(scope='mmpretrain', input_size=(32, 32), optimizer='SGD',
                           model=_cls_model(dict(type='CifarResNetRepL', depth=32, interval=4),
                                            _resnet_head(64, 10),
                                            dict(type='GlobalAveragePooling'))),
    'resnet110-cifar': dict(scope='mmpretrain', input_size=(32, 32), optimizer='SGD',
                            model=_cls_model(dict(type='CifarResNetRepL', depth=110,
                                                  interval=4),
                                             _resnet_head(64, 10),
                                             dict(type='GlobalAveragePooling'))),
    **{f'resnet{d}': dict(scope='mmpretrain', input_size=(224, 224), optimizer='SGD',
                          model=_cls_model(dict(type='ResNetRepL', depth=d, interval=4),
                                           _resnet_head(512 if d < 50 else 2048),
                                           dict(type='GlobalAveragePooling')))
       for d in (18, 34, 50, 101, 152)},
    **{f'vit-{n}': dict(scope='mmpretrain', input_size=(224, 224), optimizer='AdamW',
                        model=_cls_model(dict(type='VisionTransformerRepL', arch=arch,
                                              img_size=224, patch_size=16, interval=4),
                                         dict(type='VisionTransformerClsHead',
                                              num_classes=1000, in_channels=c,
                                              loss=dict(type='CrossEntropyLoss'))))
       for n, arch, c in (('tiny', 'deit-tiny', 192), ('small', 'deit-small', 384),
                          ('base', 'base', 768))},
    **{f'retinanet-r{d}': dict(scope='mmdet', input_size=(800, 1344), optimizer='Adam',
                               base='_base_/models/retinanet_r50_fpn.py',
                               backbone=dict(type='ResNetRepL', depth=d, interval=4,
                                             init_cfg=None))
       for d in (50, 101)},
    'deeplabv3-r50': dict(scope='mmseg', input_size=(512, 1024), optimizer='SGD',
                          base='_base_/models/deeplabv3_r50-d8.py',
                          backbone=dict(type='ResNetV1cRepL', interval=4),
                          norm_cfg=dict(type='BN', requires_grad=True)),
}


@dataclass
class ModelSpec:
    """What to build: ``scope`` (toolbox), the model config (a ``ConfigDict`` as the config
    file gives it; a plain dict is accepted), the training input size and the optimizer type;
    ``source`` names the config file or preset."""
    source: str
    scope: str
    model: dict
    input_size: Tuple[int, int]
    optimizer: str = 'SGD'


def _find_in_pipeline(cfg) -> Optional[Tuple[int, int]]:
    """Training crop size from a config's train pipeline (RandomResizedCrop scale,
    RandomCrop crop_size, mmdet Resize scale)."""
    def pipelines(node):
        if isinstance(node, dict):
            if 'pipeline' in node and isinstance(node['pipeline'], (list, tuple)):
                yield node['pipeline']
            for v in node.values():
                yield from pipelines(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                yield from pipelines(v)

    for pipe in pipelines(cfg.get('train_dataloader', {})):
        for t in pipe:
            if not isinstance(t, dict):
                continue
            typ = str(t.get('type', ''))
            if typ.endswith('RandomResizedCrop') and 'scale' in t:
                s = t['scale']
                return (s, s) if isinstance(s, int) else (s[1], s[0])
            if typ.endswith('RandomCrop') and 'crop_size' in t:
                s = t['crop_size']
                return (s, s) if isinstance(s, int) else tuple(s)
            if typ.endswith('Resize') and 'scale' in t and cfg.get('default_scope') == 'mmdet':
                w, h = t['scale']  # mmdet scales are (w, h); pad to a multiple of 32
                return (-(-min(w, h) // 32) * 32, -(-max(w, h) // 32) * 32)
    return None


def _guess_scope(model: dict) -> str:
    typ = str(model.get('type', ''))
    if typ in ('EncoderDecoder', 'CascadeEncoderDecoder'):
        return 'mmseg'
    if typ in ('ImageClassifier',) or 'VisionTransformer' in str(
            model.get('backbone', {}).get('type', typ)):
        return 'mmpretrain'
    return 'mmdet'


def load_spec(spec: str, cfg_options: Optional[dict] = None,
              input_size: Optional[Sequence[int]] = None) -> ModelSpec:
    """Resolves a config path or a preset name (see :data:`PRESETS`) into a :class:`ModelSpec`.

    Args:
        spec (str): a config file (mm style, ``custom_imports`` honoured) or a preset name.
        cfg_options (dict, optional): ``key.sub=value`` overrides merged into the config
            (like ``--cfg-options`` of the mm tools), e.g. ``{'model.backbone.interval': 3}``.
        input_size (Sequence[int], optional): ``(H, W)`` or ``(S,)``, overriding the size
            inferred from the config's train pipeline.
    """
    if os.path.exists(spec):
        from ..utils.inputs import check_config_file
        check_config_file(spec)
        cfg = Config.fromfile(spec)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        model = cfg.model
        scope = cfg.get('default_scope') or _guess_scope(model)
        size = _find_in_pipeline(cfg)
        opt = cfg.get('optim_wrapper', {}).get('optimizer', {}).get('type', 'SGD')
        result = ModelSpec(spec, scope, model, size, str(opt))
    elif spec in PRESETS:
        p = copy.deepcopy(PRESETS[spec])
        if 'base' in p:
            cfg = Config.fromfile(_package_config(p['scope'], p['base']))
            model = cfg.model
            model['backbone'].update(p['backbone'])
            if 'norm_cfg' in p:
                _replace_norm(model, p['norm_cfg'])
            model.pop('pretrained', None)
        else:
            model = p['model']
        cfg = Config(dict(model=model))
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        result = ModelSpec(spec, p['scope'], cfg.model, p['input_size'],
                           p['optimizer'])
    else:
        raise ValueError(f'{spec!r} is neither a config file nor a preset; presets: '
                         f'{sorted(PRESETS)}')
    if input_size is not None:
        size = tuple(input_size)
        result.input_size = (size[0], size[0]) if len(size) == 1 else (size[0], size[1])
    if result.input_size is None:
        raise ValueError(f'cannot infer the training input size of {spec}: pass input_size')
    return result


def _replace_norm(node, norm_cfg: dict) -> None:
    """SyncBN -> the given norm in every ``norm_cfg`` of a model dict (single-process runs)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == 'norm_cfg' and isinstance(v, dict):
                node[k] = dict(norm_cfg)
            else:
                _replace_norm(v, norm_cfg)
    elif isinstance(node, list):
        for v in node:
            _replace_norm(v, norm_cfg)


def e2e_twin(spec: ModelSpec) -> ModelSpec:
    """The E2E twin of a RepL spec: the stock backbone class (``ResNetRepL`` -> ``ResNet``,
    ``VisionTransformerRepL`` -> ``VisionTransformer``, ...) without the RepL arguments."""
    model = copy.deepcopy(spec.model)
    bb = model['backbone'] if 'backbone' in model else model
    typ = str(bb['type'])
    if not typ.endswith('RepL'):
        raise ValueError(f'{spec.source}: backbone type {typ!r} is not a RepL backbone')
    bb['type'] = typ[:-len('RepL')]
    for k in REPL_ARGS:
        bb.pop(k, None)
    return ModelSpec(spec.source + ' with its stock backbone', spec.scope, model, spec.input_size,
                     spec.optimizer)


def build_model(spec: ModelSpec, overrides: Optional[dict] = None) -> nn.Module:
    """Builds the whole model of ``spec`` in its toolbox (SyncBN reverted to BN).

    Args:
        overrides (dict, optional): extra backbone arguments (``with_cp``,
            ``drop_path_rate``).
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    import repl_mm  # noqa: F401  registers the RepL backbones
    init_default_scope(spec.scope)
    cfg = ConfigDict(copy.deepcopy(spec.model))
    if overrides:
        cfg['backbone'].update(overrides)
    cfg.pop('data_preprocessor', None)  # inputs are made normalised already
    return revert_sync_batchnorm(build_in_scope(cfg, spec.scope))


def make_optimizer(kind: str, params) -> torch.optim.Optimizer:
    """The optimizer of a training step: ``SGD`` (momentum 0.9, wd 1e-4), ``AdamW`` (wd 0.05)
    or ``Adam``, with a small learning rate (random data must not diverge)."""
    params = list(params)
    kind = kind.split('.')[-1]
    if kind == 'SGD':
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4)
    if kind == 'AdamW':
        return torch.optim.AdamW(params, lr=1e-5, weight_decay=0.05)
    if kind == 'Adam':
        return torch.optim.Adam(params, lr=1e-5)
    raise ValueError(f'optimizer must be one of (SGD, AdamW, Adam), got {kind!r}')
