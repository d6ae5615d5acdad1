"""Which form (training or deploy) a checkpoint holds, and loading it into a RepL backbone.

A RepL computing layer has two forms with different state-dict keys (paper §IV-D1e):

* training form: the synthesis coefficients and the layer's BN (``layer3.3.synthesis.alpha``,
  ``layer3.3.norm.running_mean``); the operator is synthesized from the neighbours (eq. 5);
* deploy form: the folded static operator of eq. 32-33 (CNN: ``layer1.3.conv.*`` for a
  BasicBlock site, ``conv_red`` / ``conv_mid`` / ``conv_exp`` for a Bottleneck site; ViT:
  ``proj``, ``ln1``, ``ln2``, ``fc1``, ``fc2``).

Loading one form into a model of the other used to leave the computing layers at their random
initialisation with only a "do not match exactly" warning. :func:`prepare_backbone_for_state_dict`
runs when a RepL backbone's own ``_load_from_state_dict`` is called -- by
``nn.Module.load_state_dict`` and by mmengine's ``load_state_dict`` alike, before any child is
loaded -- so every loader (``load_checkpoint``, ``load_from``, ``init_cfg=Pretrained``, the
toolboxes' inferencers) gets the same behaviour:

* deploy-form keys into a training-form backbone: the backbone switches to its deploy form
  (``switch_to_deploy()``) and the keys then match;
* training-form keys into a deploy-form backbone: :class:`CheckpointFormError` (a
  ``ValueError``) saying to load the checkpoint in the training form and run the converter;
* a deploy-form backbone and a checkpoint that covers the backbone but has no deploy weights
  for a computing layer (an E2E or training checkpoint): refused the same way.
"""
from typing import Dict, Iterator, List, Mapping, Optional, Set, Tuple

import torch
from torch import nn

from .layer import ComputingLayer

__all__ = ['TRAIN', 'DEPLOY', 'CheckpointFormError', 'is_computing_layer',
           'iter_computing_layers', 'deploy_keys', 'layer_checkpoint_form',
           'detect_checkpoint_form', 'prepare_backbone_for_state_dict', 'CONVERTER']

TRAIN = 'train'
DEPLOY = 'deploy'
#: child modules that hold a training-form computing layer's state (``operator``: the own
#: operator of a Table VI "no weights" layer, :mod:`repl_mm.core.own`)
TRAIN_CHILDREN = ('synthesis', 'norm', 'operator')
#: the converter named in the errors
CONVERTER = 'tools/model_converters/reparameterize_model.py'


class CheckpointFormError(ValueError):
    """A checkpoint of the training form was given to a deploy-form RepL model (or the
    reverse could not be handled); nothing was loaded into the computing layers."""


def is_computing_layer(module: nn.Module) -> bool:
    """A RepL computing layer (CNN or transformer, :class:`~repl_mm.core.layer.ComputingLayer`)."""
    return isinstance(module, ComputingLayer)


def iter_computing_layers(backbone: nn.Module) -> Iterator[Tuple[str, nn.Module]]:
    """Yields ``(relative name, layer)`` for every computing layer under ``backbone``."""
    for name, module in backbone.named_modules():
        if name and is_computing_layer(module):
            yield name, module


def deploy_keys(layer: nn.Module) -> Set[str]:
    """The state-dict keys (relative to the layer) of ``layer``'s deploy form (eq. 32-33).

    For a training-form layer the deploy modules are built on the ``meta`` device on a bare
    copy of the layer's settings, so nothing is allocated and the layer is not changed.
    """
    if layer.deploy:
        return set(layer.state_dict().keys())
    probe = type(layer).__new__(type(layer))
    nn.Module.__init__(probe)
    probe.__dict__.update({k: v for k, v in layer.__dict__.items() if not k.startswith('_')})
    with torch.device('meta'):
        probe._build_deploy_modules()
    return set(probe.state_dict().keys())


def _is_train_key(key: str) -> bool:
    return key.split('.', 1)[0] in TRAIN_CHILDREN


def layer_checkpoint_form(layer: nn.Module, keys: Set[str]) -> Optional[str]:
    """The form of one computing layer's keys in a checkpoint.

    Args:
        layer (nn.Module): the computing layer of the model.
        keys (set[str]): the checkpoint's keys under the layer's prefix, prefix removed.

    Returns:
        ``'train'`` if a training-form key (``synthesis.*``, ``norm.*``) is present,
        ``'deploy'`` if every key is one of the layer's deploy-form keys, None otherwise
        (no keys, or the removed block's stock E2E keys such as ``conv1.weight``).
    """
    if not keys:
        return None
    if any(_is_train_key(k) for k in keys):
        return TRAIN
    if keys <= deploy_keys(layer):
        return DEPLOY
    return None


def _layer_keys(state_dict: Mapping[str, object], prefix: str,
                names: List[str]) -> Dict[str, Set[str]]:
    found: Dict[str, Set[str]] = {name: set() for name in names}
    starts = {f'{prefix}{name}.': name for name in names}
    for key in state_dict:
        if not key.startswith(prefix):
            continue
        for start, name in starts.items():
            if key.startswith(start):
                found[name].add(key[len(start):])
                break
    return found


def detect_checkpoint_form(module: nn.Module, state_dict: Mapping[str, object],
                           prefix: str = '') -> Optional[str]:
    """The form of the RepL computing layers' weights in ``state_dict``.

    Args:
        module (nn.Module): the RepL backbone (or any module holding computing layers).
        state_dict (Mapping): the incoming state dict (whole model or part of it).
        prefix (str): the backbone's key prefix in ``state_dict`` (e.g. ``'backbone.'``).

    Returns:
        ``'train'``, ``'deploy'`` or None (no computing-layer keys of either form: a stock E2E
        checkpoint, or one that does not cover the backbone).

    Raises:
        CheckpointFormError: some layers are in one form and some in the other.
    """
    layers = dict(iter_computing_layers(module))
    keys = _layer_keys(state_dict, prefix, list(layers))
    forms = {name: layer_checkpoint_form(layers[name], keys[name]) for name in layers}
    found = {f for f in forms.values() if f is not None}
    if len(found) > 1:
        detail = ', '.join(f'{prefix}{n}: {f}' for n, f in forms.items() if f is not None)
        raise CheckpointFormError(
            f'the checkpoint mixes training-form and deploy-form computing layers ({detail}); '
            'it was not made by this code from one model. Use the training checkpoint, or '
            f'the deploy checkpoint written by {CONVERTER}')
    return found.pop() if found else None


def _covers(state_dict: Mapping[str, object], prefix: str) -> bool:
    return any(k.startswith(prefix) for k in state_dict)


def _register_new_params(backbone: nn.Module) -> None:
    """mmengine's ``init_weights`` bookkeeping (``_params_init_info``, shared by every module
    of the top-level model) asserts that no parameter appears during ``init_weights``; the
    deploy modules created by the switch are registered there (``init_cfg=Pretrained``)."""
    info = getattr(backbone, '_params_init_info', None)
    if info is None:
        return
    for name, param in backbone.named_parameters():
        if param not in info:
            info[param]['init_info'] = (f'{name}: deploy form (eq. 32-33) created by repl_mm '
                                        'to load a deploy checkpoint')
            info[param]['tmp_mean_value'] = param.data.mean().cpu()
    for module in backbone.modules():  # init_weights deletes it from every module at its end
        if not hasattr(module, '_params_init_info'):
            module._params_init_info = info


def prepare_backbone_for_state_dict(backbone: nn.Module, state_dict: Mapping[str, object],
                                    prefix: str) -> None:
    """Makes ``backbone`` ready to load ``state_dict`` (called from its ``_load_from_state_dict``
    before its children load).

    * deploy-form keys (eq. 32-33), training-form backbone: calls
      ``backbone.switch_to_deploy()``; the keys then match.
    * training-form keys, deploy-form backbone: raises.
    * deploy-form backbone, a checkpoint with keys under ``prefix`` but no deploy weights for
      some computing layer (E2E or incomplete): raises, naming the layers.

    Args:
        backbone (nn.Module): a RepL backbone with ``switch_to_deploy()``.
        state_dict (Mapping): the state dict being loaded.
        prefix (str): the backbone's prefix in ``state_dict``.

    Raises:
        CheckpointFormError: the checkpoint cannot be loaded correctly into this form.
    """
    if not _covers(state_dict, prefix):
        return
    if callable(getattr(backbone, 'adapt_to_state_dict', None)):
        # an Adaptive-RepL backbone: the mask of the checkpoint (training or deploy form)
        try:
            backbone.adapt_to_state_dict(state_dict, prefix)
        except CheckpointFormError:
            raise
        except ValueError as e:
            raise CheckpointFormError(str(e)) from None
    layers = dict(iter_computing_layers(backbone))
    if not layers:
        return
    form = detect_checkpoint_form(backbone, state_dict, prefix)
    deployed = [name for name, layer in layers.items() if layer.deploy]
    if form == DEPLOY and len(deployed) < len(layers):
        from mmengine.logging import print_log
        print_log(f'{type(backbone).__name__}: the checkpoint holds deploy-form computing '
                  f'layers (keys {prefix}{next(iter(layers))}.*); switching the backbone to its '
                  'deploy form (switch_to_deploy) before loading them', logger='current')
        backbone.switch_to_deploy()
        _register_new_params(backbone)
        return
    if not deployed:
        return
    if form == TRAIN:
        raise CheckpointFormError(
            f'{type(backbone).__name__} is built in the deploy form (deploy=True) but the '
            f'checkpoint holds training-form computing layers ({prefix}<layer>.synthesis.*, '
            f'norm.*). Load it in the training form (model.backbone.deploy=False, the '
            f'default), or convert it first: python {CONVERTER} CONFIG TRAINED.pth DEPLOY.pth')
    keys = _layer_keys(state_dict, prefix, deployed)
    missing = [name for name in deployed
               if layer_checkpoint_form(layers[name], keys[name]) != DEPLOY]
    if missing:
        raise CheckpointFormError(
            f'{type(backbone).__name__} is built in the deploy form (deploy=True) but the '
            f'checkpoint has no deploy weights for its computing layers '
            f'{[prefix + n for n in missing]} (it is an E2E or training-form checkpoint, or '
            f'incomplete); they would stay at their random initialisation. Load a training '
            f'checkpoint in the training form (model.backbone.deploy=False), or convert it '
            f'first: python {CONVERTER} CONFIG TRAINED.pth DEPLOY.pth')
