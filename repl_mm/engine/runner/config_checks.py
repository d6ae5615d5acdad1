"""Config mistakes the runner would otherwise ignore or trip over late.

* :func:`unknown_cfg_option_keys` / :func:`warn_unknown_cfg_options`: a top-level
  ``--cfg-options`` key that neither the config nor mmengine's Runner nor our tools read
  (``max_epoch=3`` for ``train_cfg.max_epochs=3``) is named in a warning (a new top-level key
  is legal in mmengine configs, so it is not an error).
* :func:`check_sync_bn`: SyncBN needs CUDA (torch's ``SyncBatchNorm`` refuses CPU tensors in
  training); a CPU multi-process run (gloo) with SyncBN in the model is refused before the model
  is built, with the ``--cfg-options`` that switch each SyncBN to BN.
"""
import logging
from typing import Any, Iterable, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['RUNNER_KEYS', 'unknown_cfg_option_keys', 'warn_unknown_cfg_options',
           'sync_bn_paths', 'check_sync_bn']

#: top-level config keys read by mmengine 0.10.7's Runner (``from_cfg``, ``__init__``,
#: ``setup_env``, ``wrap_model``, ``build_*``) and by repl-mm's / the toolboxes' tools
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'runner_type', 'model_wrapper_cfg',
    'find_unused_parameters', 'compile', 'activation_checkpointing', 'efficient_conv_bn_eval',
    'cudnn_benchmark', 'sync_bn', 'strategy', 'gpu_ids', 'custom_imports', 'tta_model',
    'tta_pipeline', 'backend_args', 'file_client_args', 'dist_params', 'resume_from',
    'checkpoint_config', 'fp16',
})

_SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN', 'SyncBatchNorm', 'TorchSyncBN')


def unknown_cfg_option_keys(cfg: Config, options: Optional[dict]) -> List[str]:
    """The top-level keys of ``options`` that the config does not have and nothing reads.

    Args:
        cfg (Config): the config *before* the options are merged.
        options (dict, optional): ``--cfg-options`` as parsed by ``DictAction``.
    """
    if not options:
        return []
    known = set(cfg.keys()) | RUNNER_KEYS
    tops = dict.fromkeys(str(key).split('.')[0] for key in options)
    return [top for top in tops if top not in known]


def warn_unknown_cfg_options(cfg: Config, options: Optional[dict]) -> List[str]:
    """Logs a warning naming each unknown top-level ``--cfg-options`` key; returns them."""
    unknown = unknown_cfg_option_keys(cfg, options)
    for key in unknown:
        near = _near(key, set(cfg.keys()) | RUNNER_KEYS)
        hint = f' Did you mean {near!r}?' if near else ''
        print_log(f'--cfg-options: the top-level key {key!r} is not in the config and nothing '
                  f'reads it, so it has no effect.{hint}', logger='current',
                  level=logging.WARNING)
    return unknown


def _near(key: str, known: Iterable[str]) -> Optional[str]:
    import difflib
    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return match[0] if match else None


def sync_bn_paths(node: Any, prefix: str = 'model') -> List[Tuple[str, str]]:
    """``(path, type)`` of every ``norm_cfg``-like dict in ``node`` whose type is a SyncBN.

    Args:
        node: a config (sub)tree.
        prefix (str): the dotted path of ``node``.
    """
    found: List[Tuple[str, str]] = []
    if isinstance(node, dict):
        if node.get('type') in _SYNC_BN_TYPES:
            found.append((prefix, node['type']))
        for key, value in node.items():
            found.extend(sync_bn_paths(value, f'{prefix}.{key}'))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found.extend(sync_bn_paths(value, f'{prefix}.{i}'))
    return found


def check_sync_bn(cfg: Config) -> None:
    """Refuses SyncBN in a multi-process run on CPU (gloo).

    Args:
        cfg (Config): the run's config (``launcher`` set by ``merge_train_args``).

    Raises:
        ValueError: the launcher is not ``'none'``, torch sees no CUDA device, and the model
            has a SyncBN layer or ``sync_bn`` is set; the message lists the ``--cfg-options``
            that use BN instead.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    paths = sync_bn_paths(cfg.get('model', {}))
    problems = [f'{path}.type={kind!r}' for path, kind in paths]
    if cfg.get('sync_bn', None):
        problems.append(f'sync_bn={cfg.sync_bn!r}')
    if not problems:
        return
    fix = ' '.join(f'{path}.type=BN' for path, _ in paths)
    if cfg.get('sync_bn', None):
        fix = (fix + ' sync_bn=None').strip()
    raise ValueError(
        'SyncBN needs CUDA devices, but this is a multi-process run on CPU (gloo): '
        f'{", ".join(problems)}. torch\'s SyncBatchNorm refuses CPU tensors, and replacing it '
        'silently would change the normalisation statistics (per process instead of across '
        f'processes). To train on CPU with per-process BN, add --cfg-options {fix}')
