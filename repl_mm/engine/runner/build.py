"""What ``tools/train.py`` and ``tools/test.py`` do, for mmdet, mmseg and mmpretrain configs.

The behaviour follows each toolbox's own ``tools/train.py`` / ``tools/test.py`` (mmdet 3.3.0,
mmseg 1.2.2, mmpretrain 1.2.0); the toolbox is picked from the config's ``default_scope``. Beyond
them: every RepL type resolves (``repl_mm`` is imported), the runner is ``ReplRunner`` (safe
loading, auto-resume from the newest loadable checkpoint, crash-safe saving:
:mod:`repl_mm.engine.runner.repl_runner`) unless the config names another ``runner_type``, and
the multi-process launchers work without GPUs (:mod:`repl_mm.engine.runner.dist`).
"""
import logging
import os.path as osp
from argparse import Namespace
from copy import deepcopy
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ...adapters import get_toolbox
from ..hooks.defaults import add_default_hooks, use_safe_checkpoint_hook
from .config_checks import check_sync_bn, warn_unknown_cfg_options
from .dist import setup_distributed
from .scope import setup_scope

__all__ = ['load_config', 'merge_train_args', 'merge_test_args', 'build_runner',
           'add_result_dump', 'default_work_dir', 'guard_form_switch_in_training']


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<config name>``, the toolboxes' default."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Reads a config, imports its toolbox and :mod:`repl_mm`, makes the toolbox the default
    registry scope and applies ``--cfg-options``.

    Args:
        path (str): the config file (``_base_`` may name ``mmdet::``, ``mmseg::`` or
            ``mmpretrain::`` configs), or one of repl_mm's as ``repl_mm::<name>.py``
            (:func:`repl_mm.utils.config.config_path`).
        cfg_options (dict, optional): ``key.sub=value`` overrides, as parsed by ``DictAction``.
            For mmpretrain configs they apply after mmpretrain's dataloader defaults
            (``pin_memory``, ``persistent_workers``, ``default_collate``), as in its tools.
    """
    from ...utils.config import config_path
    cfg = Config.fromfile(config_path(path))
    toolbox = get_toolbox(setup_scope(cfg))
    if toolbox.prepare_config is not None:  # what the toolbox's tools set before cfg-options
        toolbox.prepare_config(cfg)
    if cfg_options:
        warn_unknown_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


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
    get_toolbox(cfg.default_scope).show_dir(cfg, hooks['visualization'], args)


def _enable_tta(cfg: Config) -> None:
    """``--tta`` as each toolbox's ``test.py`` does it: wrap the model in ``tta_model`` and test
    with ``tta_pipeline``. Where the config has neither, the toolbox's flip TTA is used if it
    has a default (mmdet ``DetTTAModel``, mmpretrain ``AverageClsScoreTTA``:
    :attr:`~repl_mm.adapters.Toolbox.default_tta_model`); mmseg needs both in the config (its
    ``default_runtime.py`` and dataset configs define them)."""
    toolbox = get_toolbox(cfg.default_scope)
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset['dataset']
    if toolbox.default_tta_model is None:
        missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
        if missing:
            raise ValueError(f'--tta needs {missing} in the config ({toolbox.scope}: inherit '
                             f"{toolbox.scope}::_base_/default_runtime.py for tta_model and a "
                             'dataset config with tta_pipeline)')
    if 'tta_model' not in cfg:
        cfg.tta_model = deepcopy(toolbox.default_tta_model)
    if 'tta_pipeline' not in cfg:
        pipeline = deepcopy(dataset.pipeline)
        pack = deepcopy(toolbox.tta_pack) if toolbox.tta_pack is not None else pipeline[-1]
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
    toolbox = get_toolbox(cfg.default_scope)
    if getattr(args, 'out', None) is not None and toolbox.test_out_args is not None:
        toolbox.test_out_args(cfg, args.out)
    _no_persistent_workers_without_workers(cfg)
    setup_distributed(cfg, getattr(args, 'launcher', 'none'))
    return cfg


def add_result_dump(runner: Runner, out: Optional[str], out_item: Optional[str] = None) -> None:
    """``--out``: the toolbox dumps predictions (mmdet ``DumpDetResults``, mmpretrain
    ``DumpResults``; mmseg writes through its evaluator, see :func:`merge_test_args`).

    Args:
        runner (Runner): the built test runner.
        out (str, optional): the pickle file to write; None does nothing.
        out_item (str, optional): mmpretrain's ``--out-item``: ``'metrics'`` dumps the metrics
            instead (done by ``tools/test.py`` after the test), ``'pred'`` / None the
            predictions.
    """
    if out is None or out_item == 'metrics':
        return
    toolbox = get_toolbox(runner.cfg.default_scope)
    if toolbox.dump_results is not None:
        toolbox.dump_results(runner, out)


def build_runner(cfg: Config) -> Runner:
    """The runner of ``cfg``: ``runner_type`` if the config names one, else ``ReplRunner``
    (:mod:`repl_mm.engine.runner.repl_runner`), with ``NonFiniteLossHook`` and
    ``RNGStateHook`` added when the config lacks them and a ``CheckpointHook`` made
    ``SafeCheckpointHook`` (:mod:`repl_mm.engine.hooks.defaults`); SyncBN in a CPU
    multi-process run is refused (:func:`repl_mm.engine.runner.config_checks.check_sync_bn`).
    """
    add_default_hooks(cfg)
    cfg.default_hooks = use_safe_checkpoint_hook(cfg.get('default_hooks', None))
    check_sync_bn(cfg)
    toolbox = get_toolbox(cfg.default_scope)
    if toolbox.before_build is not None:
        toolbox.before_build(cfg)
    if cfg.get('runner_type', None) is None:
        cfg.runner_type = 'ReplRunner'
    else:
        _warn_other_runner(cfg.runner_type)
    runner = RUNNERS.build(cfg)
    guard_form_switch_in_training(runner)
    return runner


def _warn_other_runner(runner_type) -> None:
    from .repl_runner import ReplRunner
    cls = RUNNERS.get(runner_type) if isinstance(runner_type, str) else runner_type
    if isinstance(cls, type) and not issubclass(cls, ReplRunner):
        print_log(f'runner_type={runner_type!r} is not ReplRunner: checkpoints are saved '
                  'crash-safely by SafeCheckpointHook, but loading and auto-resume are that '
                  "runner's (derive it from repl_mm.engine.ReplRunner for the safe loading and "
                  'the fallback to the newest loadable checkpoint).', logger='current',
                  level=logging.WARNING)


def guard_form_switch_in_training(runner: Runner) -> None:
    """Refuses a training run whose ``load_from`` / resume checkpoint switched a RepL backbone
    to its deploy form.

    Loading a deploy-form checkpoint (eq. 32-33) into a training-form RepL model switches the
    backbone before loading (:mod:`repl_mm.core.forms`); that is right for testing and
    inference. In ``Runner.train()`` the checkpoint is loaded *after* the optimizer is built,
    so the optimizer would hold the removed synthesis coefficients and not the folded
    operators: the computing layers would silently never train. This wraps the runner's
    ``load_or_resume`` and raises :class:`~repl_mm.core.forms.CheckpointFormError` (naming
    the file and the fix) when that happened during training. A model built in the deploy
    form (``model.backbone.deploy=True``) loads a deploy checkpoint without a switch and
    fine-tunes the folded network.
    """
    from mmengine.optim import OptimWrapper, OptimWrapperDict

    from ...core.forms import CheckpointFormError, iter_computing_layers
    load_or_resume = runner.load_or_resume

    def guarded() -> None:
        training = isinstance(runner.optim_wrapper, (OptimWrapper, OptimWrapperDict))
        before = {name: layer.deploy for name, layer in iter_computing_layers(runner.model)}
        load_or_resume()
        switched = [name for name, layer in iter_computing_layers(runner.model)
                    if layer.deploy and not before.get(name, True)]
        if training and switched:
            source = runner._load_from or f'the latest checkpoint in {runner.work_dir}'
            raise CheckpointFormError(
                f'{source} is a deploy-form (reparameterized) checkpoint: its folded '
                f'computing layers ({switched[0]}, ... {len(switched)} in all) switched the '
                'training-form model after the optimizer was built, so they would not train. '
                'Train from the training checkpoint (the one before '
                'tools/model_converters/reparameterize_model.py), or fine-tune the folded '
                'network itself with --cfg-options model.backbone.deploy=True.')

    runner.load_or_resume = guarded
