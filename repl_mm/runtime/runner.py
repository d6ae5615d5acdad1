"""What ``tools/train.py`` and ``tools/test.py`` do, for mmdet, mmseg and mmpretrain configs.

The behaviour follows each toolbox's own ``tools/train.py`` / ``tools/test.py`` (mmdet 3.3.0,
mmseg 1.2.2, mmpretrain 1.2.0); the toolbox is picked from the config's ``default_scope``. Beyond
them: every RepL type resolves (``repl_mm`` is imported), checkpoints load safely
(:mod:`repl_mm.runtime.checkpoint`), and the multi-process launchers work without GPUs
(:mod:`repl_mm.runtime.dist`).
"""
import logging
import os
import os.path as osp
from argparse import Namespace
from copy import deepcopy
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .dist import setup_distributed
from .scope import setup_scope

__all__ = ['load_config', 'merge_train_args', 'merge_test_args', 'build_runner',
           'add_result_dump', 'default_work_dir']


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<config name>``, the toolboxes' default."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Reads a config, imports its toolbox and :mod:`repl_mm`, makes the toolbox the default
    registry scope and applies ``--cfg-options``.

    Args:
        path (str): the config file (``_base_`` may name ``mmdet::``, ``mmseg::`` or
            ``mmpretrain::`` configs).
        cfg_options (dict, optional): ``key.sub=value`` overrides, as parsed by ``DictAction``.
            For mmpretrain configs they apply after mmpretrain's dataloader defaults
            (``pin_memory``, ``persistent_workers``, ``default_collate``), as in its tools.
    """
    cfg = Config.fromfile(path)
    scope = setup_scope(cfg)
    if scope == 'mmpretrain':  # mmpretrain's train.py/test.py set these before cfg-options
        _mmpretrain_dataloader_defaults(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _mmpretrain_dataloader_defaults(cfg: Config) -> None:
    default = ConfigDict(pin_memory=True, persistent_workers=True,
                         collate_fn=dict(type='default_collate'))
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(default)
        loader.update(cfg[field])
        cfg[field] = loader


def _no_persistent_workers_without_workers(cfg: Config) -> None:
    # torch's DataLoader refuses persistent_workers=True with num_workers=0, which the
    # toolboxes' base configs combine as soon as a user sets num_workers=0
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field, None)
        if loader is not None and loader.get('num_workers', 0) == 0 \
                and loader.get('persistent_workers', False):
            loader['persistent_workers'] = False


def _set_work_dir(cfg: Config, args: Namespace) -> None:
    # priority: CLI > segment in file > config file name
    if getattr(args, 'work_dir', None) is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = default_work_dir(args.config)


def merge_train_args(cfg: Config, args: Namespace) -> Config:
    """Applies the train CLI: ``--work-dir``, ``--amp``, ``--auto-scale-lr``, ``--resume
    [CHECKPOINT]``, ``--no-validate``, ``--launcher`` (after ``--cfg-options``).

    Args:
        cfg (Config): the config from :func:`load_config`; changed in place and returned.
        args (Namespace): parsed ``tools/train.py`` arguments (``config``, ``work_dir``,
            ``amp``, ``auto_scale_lr``, ``resume``, ``no_validate``, ``launcher``).

    Raises:
        ValueError: ``--amp`` with an optimizer wrapper other than ``OptimWrapper``, or
            ``--auto-scale-lr`` without ``auto_scale_lr.base_batch_size`` in the config.
    """
    _set_work_dir(cfg, args)
    if getattr(args, 'amp', False):
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        elif wrapper != 'OptimWrapper':
            raise ValueError(f"--amp needs optim_wrapper.type 'OptimWrapper' or "
                             f"'AmpOptimWrapper', got {wrapper!r}")
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if getattr(args, 'auto_scale_lr', False):
        auto = cfg.get('auto_scale_lr', None)
        if not auto or 'base_batch_size' not in auto:
            raise ValueError('--auto-scale-lr needs auto_scale_lr=dict(enable=..., '
                             'base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True
    resume = getattr(args, 'resume', None)
    if resume == 'auto':  # latest checkpoint of the work dir
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    if getattr(args, 'no_validate', False):
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    _no_persistent_workers_without_workers(cfg)
    setup_distributed(cfg, getattr(args, 'launcher', 'none'))
    return cfg


def _enable_visualization(cfg: Config, args: Namespace) -> None:
    """``--show`` / ``--show-dir`` as each toolbox's ``test.py`` does it."""
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise ValueError("--show/--show-dir need default_hooks.visualization in the config, "
                         "e.g. visualization=dict(type='DetVisualizationHook')")
    hook = hooks['visualization']
    scope = cfg.default_scope
    if scope == 'mmpretrain':  # mmpretrain VisualizationHook
        hook['enable'] = True
        hook['show'] = bool(args.show)
        hook['wait_time'] = args.wait_time
        hook['out_dir'] = args.show_dir
        hook['interval'] = getattr(args, 'interval', 1)
        return
    hook['draw'] = True  # mmdet DetVisualizationHook / mmseg SegVisualizationHook
    # mmseg's hook draws every `interval`-th test batch (default 50: nothing on a small set)
    hook['interval'] = getattr(args, 'interval', 1)
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        if scope == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        else:
            cfg.visualizer['save_dir'] = args.show_dir


def _enable_tta(cfg: Config) -> None:
    """``--tta`` as each toolbox's ``test.py`` does it: wrap the model in ``tta_model`` and test
    with ``tta_pipeline``. mmdet and mmpretrain default to flip TTA (``DetTTAModel`` /
    ``AverageClsScoreTTA``) when the config has neither; mmseg needs both in the config (its
    ``default_runtime.py`` and dataset configs define them)."""
    scope = cfg.default_scope
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset['dataset']
    if scope == 'mmseg':
        missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
        if missing:
            raise ValueError(f'--tta needs {missing} in the config (mmseg: inherit '
                             "mmseg::_base_/default_runtime.py for tta_model=dict(type="
                             "'SegTTAModel') and a dataset config with tta_pipeline)")
    else:
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='DetTTAModel', tta_cfg=dict(
                nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)) \
                if scope == 'mmdet' else dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            pipeline = deepcopy(dataset.pipeline)
            pack = pipeline[-1] if scope != 'mmdet' else dict(  # DetTTAModel reads flip
                type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                                 'img_shape', 'scale_factor', 'flip',
                                                 'flip_direction'))
            pipeline[-1] = dict(type='TestTimeAug', transforms=[
                [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)], [pack]])
            cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset.pipeline = cfg.tta_pipeline


def merge_test_args(cfg: Config, args: Namespace) -> Config:
    """Applies the test CLI: ``checkpoint``, ``--work-dir``, ``--show``, ``--show-dir``,
    ``--interval``, ``--out`` (mmseg form), ``--tta``, ``--amp``, ``--no-pin-memory``,
    ``--launcher``.

    Args:
        cfg (Config): the config from :func:`load_config`; changed in place and returned.
        args (Namespace): parsed ``tools/test.py`` arguments (``config``, ``checkpoint``,
            ``work_dir``, ``show``, ``show_dir``, ``wait_time``, ``interval``, ``out``,
            ``tta``, ``amp``, ``no_pin_memory``, ``launcher``).

    Raises:
        ValueError: ``--interval`` below 1; ``--tta`` on an mmseg config without
            ``tta_model`` / ``tta_pipeline``.
    """
    _set_work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    if getattr(args, 'interval', 1) < 1:
        raise ValueError(f'--interval must be >= 1, got {args.interval}')
    if getattr(args, 'show', False) or getattr(args, 'show_dir', None):
        _enable_visualization(cfg, args)
    if getattr(args, 'tta', False):
        _enable_tta(cfg)
    if getattr(args, 'amp', False):  # mmengine TestLoop autocast (bf16 on CPU)
        cfg.test_cfg = ConfigDict(cfg.get('test_cfg', None) or dict(type='TestLoop'))
        cfg.test_cfg.fp16 = True
    if getattr(args, 'no_pin_memory', False):
        cfg.test_dataloader.pin_memory = False
    if getattr(args, 'out', None) is not None and cfg.default_scope == 'mmseg':
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    _no_persistent_workers_without_workers(cfg)
    setup_distributed(cfg, getattr(args, 'launcher', 'none'))
    return cfg


def add_result_dump(runner: Runner, out: Optional[str], out_item: Optional[str] = None) -> None:
    """``--out`` for mmdet (``DumpDetResults``) and mmpretrain (``DumpResults``) predictions.

    Args:
        runner (Runner): the built test runner.
        out (str, optional): the pickle file to write; None does nothing.
        out_item (str, optional): mmpretrain's ``--out-item``: ``'metrics'`` dumps the metrics
            instead (done by ``tools/test.py`` after the test), ``'pred'`` / None the
            predictions.
    """
    if out is None or out_item == 'metrics':
        return
    scope = runner.cfg.default_scope
    if scope == 'mmdet':
        if not out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl or .pickle file, got {out!r}')
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))
    elif scope == 'mmpretrain':
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=out))


def build_runner(cfg: Config) -> Runner:
    """The toolbox's Runner (``runner_type`` if the config names one, else mmengine's)."""
    if cfg.default_scope == 'mmdet' and 'DYNAMO_CACHE_SIZE_LIMIT' in os.environ:
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        setup_cache_size_limit_of_dynamo()
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
