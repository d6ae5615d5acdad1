"""Config mistakes are not ignored (issue 12): unknown top-level ``--cfg-options`` keys are named,
SyncBN in a CPU multi-process run is refused with the fix, and every training config gets
NonFiniteLossHook and RNGStateHook (from the project configs, or from tools/train.py)."""
import glob
import os.path as osp
import re
from types import SimpleNamespace
from typing import List

import pytest
from mmengine.config import Config

from repl_mm.engine.hooks import DEFAULT_HOOKS, add_default_hooks
from repl_mm.engine.runner import build as runner
from repl_mm.engine.runner import config_checks
from repl_mm.engine.runner.config_checks import (
    check_sync_bn,
    sync_bn_paths,
    unknown_cfg_option_keys,
    warn_unknown_cfg_options,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _cfg(**kw) -> Config:
    base = dict(model=dict(type='X', backbone=dict(norm_cfg=dict(type='BN'))),
                train_cfg=dict(max_epochs=2), optim_wrapper=dict(optimizer=dict(lr=0.1)))
    base.update(kw)
    return Config(base)


def test_unknown_top_level_keys_named(monkeypatch):
    logged = []
    monkeypatch.setattr(config_checks, 'print_log', lambda msg, **kw: logged.append(msg))
    options = {'train_cfg.max_epochs': 3, 'optim_wraper.optimizer.lr': 0.01, 'max_epochs': 3,
               'load_from': 'x.pth', 'randomness.seed': 1, 'model.backbone.depth': 18}
    assert unknown_cfg_option_keys(_cfg(), options) == ['optim_wraper', 'max_epochs']
    assert warn_unknown_cfg_options(_cfg(), options) == ['optim_wraper', 'max_epochs']
    assert logged[0] == ("--cfg-options: the top-level key 'optim_wraper' is not in the config "
                         "and nothing reads it, so it has no effect. Did you mean "
                         "'optim_wrapper'?")
    assert logged[1].startswith("--cfg-options: the top-level key 'max_epochs' is not")
    assert len(logged) == 2


def test_load_config_warns(monkeypatch, tmp_path):
    logged = []
    monkeypatch.setattr(config_checks, 'print_log', lambda msg, **kw: logged.append(msg))
    monkeypatch.setattr(runner, 'setup_scope', lambda cfg: 'mmpretrain')
    path = tmp_path / 'c.py'
    path.write_text("model = dict(type='X')\ntrain_cfg = dict(max_epochs=1)\n")
    cfg = runner.load_config(str(path), {'trian_cfg.max_epochs': 4, 'train_cfg.max_epochs': 3})
    assert cfg.train_cfg.max_epochs == 3
    assert len(logged) == 1 and "'trian_cfg'" in logged[0] and "'train_cfg'" in logged[0]


def test_sync_bn_paths():
    model = dict(backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True)),
                 decode_head=dict(norm_cfg=dict(type='SyncBN')),
                 auxiliary_head=[dict(norm_cfg=dict(type='BN')),
                                 dict(norm_cfg=dict(type='SyncBN'))])
    assert sync_bn_paths(model) == [('model.backbone.norm_cfg', 'SyncBN'),
                                    ('model.decode_head.norm_cfg', 'SyncBN'),
                                    ('model.auxiliary_head.1.norm_cfg', 'SyncBN')]


def test_sync_bn_refused_on_cpu_multi_process(monkeypatch):
    monkeypatch.setattr(config_checks.torch.cuda, 'is_available', lambda: False)
    cfg = _cfg(launcher='pytorch')
    cfg.model.backbone.norm_cfg.type = 'SyncBN'
    with pytest.raises(ValueError) as err:
        check_sync_bn(cfg)
    msg = str(err.value)
    assert "model.backbone.norm_cfg.type='SyncBN'" in msg
    assert msg.endswith('add --cfg-options model.backbone.norm_cfg.type=BN')
    check_sync_bn(_cfg(launcher='pytorch'))  # BN: fine
    cfg.launcher = 'none'
    check_sync_bn(cfg)  # one process: SyncBN acts as BN (mmengine's revert_sync_batchnorm)
    with pytest.raises(ValueError, match='sync_bn=None'):
        check_sync_bn(_cfg(launcher='pytorch', sync_bn='torch'))


def test_sync_bn_allowed_with_cuda(monkeypatch):
    monkeypatch.setattr(config_checks.torch.cuda, 'is_available', lambda: True)
    cfg = _cfg(launcher='pytorch')
    cfg.model.backbone.norm_cfg.type = 'SyncBN'
    check_sync_bn(cfg)


def test_add_default_hooks():
    cfg = Config(dict())
    assert add_default_hooks(cfg) == DEFAULT_HOOKS
    assert [h['type'] for h in cfg.custom_hooks] == DEFAULT_HOOKS
    cfg = Config(dict(custom_hooks=[dict(type='EMAHook'),
                                    dict(type='NonFiniteLossHook', enabled=False)]))
    assert add_default_hooks(cfg) == ['RNGStateHook']
    assert cfg.custom_hooks[1] == dict(type='NonFiniteLossHook', enabled=False)
    assert add_default_hooks(cfg) == []


def test_build_runner_adds_default_hooks(monkeypatch):
    built = []
    monkeypatch.setattr(runner.Runner, 'from_cfg',      # a stand-in runner: only the config
                        lambda cfg: built.append(cfg) or SimpleNamespace(load_or_resume=None))
    cfg = _cfg(default_scope='mmpretrain')
    runner.build_runner(cfg)
    assert [h['type'] for h in built[0].custom_hooks] == DEFAULT_HOOKS
    # built through RUNNERS as ReplRunner, with mmengine's CheckpointHook made the safe one
    assert built[0].runner_type == 'ReplRunner'
    assert built[0].default_hooks['checkpoint'] == dict(type='SafeCheckpointHook', interval=1)


PROJECT_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py'))
                         + glob.glob(osp.join(ROOT, 'configs', 'demo', '*.py'))
                         + [osp.join(ROOT, 'tests', 'tools', 'tiny_retinanet_repl.py')])
_BASES = re.compile(r"^_base_ = (\[.*?\]|'[^']*')", re.S | re.M)


def _local_chain(path: str) -> List[str]:
    """``path`` and every project file it inherits from (``mmdet::`` etc. bases left out)."""
    text = open(path).read()
    match = _BASES.search(text)
    chain = [path]
    if match:
        for base in re.findall(r"'([^']+)'", match.group(1)):
            if '::' not in base:
                chain += _local_chain(osp.normpath(osp.join(osp.dirname(path), base)))
    return chain


def _defines_hooks(path: str) -> bool:
    return re.search(r'^custom_hooks = ', open(path).read(), re.M) is not None


@pytest.mark.parametrize('path', PROJECT_CONFIGS, ids=osp.basename)
def test_every_project_config_inherits_the_safety_hooks(path):
    """Each config's chain of project files holds exactly one ``custom_hooks`` (so no
    sibling base can replace it); the loads below check what that list holds."""
    assert sum(map(_defines_hooks, _local_chain(path))) == 1, _local_chain(path)


@pytest.mark.parametrize('name', [
    'cifar-resnet32_repl_cifar10.py', 'deeplabv3_r50_repl_cityscapes.py',
    'retinanet_r50_repl_coco.py', 'retinanet_r101_repl_fpn_1x_coco_pretrained.py',
    'retinanet_r50_repl_fpn_1x_coco_pretrained.py', 'demo/retinanet_r34_repl_shapes.py'])
def test_config_loads_with_the_safety_hooks(name):
    from repl_mm.engine.runner.cluster import CLUSTER_HOOKS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    assert [h['type'] for h in cfg.custom_hooks] == DEFAULT_HOOKS + CLUSTER_HOOKS
    # the runner and checkpoint hook that save crash-safely and resume from the newest
    # loadable checkpoint, also under the toolboxes' own tools/train.py (issue 21)
    assert cfg.runner_type == 'ReplRunner'
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
