"""ReplRunner and SafeCheckpointHook as registered extensions (issue 21): built from
``runner_type``, the hooks it adds or upgrades, and safe loading even after another package
re-registered an unsafe loader for a scheme."""
import os
import os.path as osp
import sys

import pytest
import torch
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS, RUNNERS
from mmengine.runner import CheckpointLoader
from mmengine.runner import checkpoint as ckpt_mod

from repl_mm.engine import ReplRunner, SafeCheckpointHook, UnsafeCheckpointError
from repl_mm.engine.fileio.loaders import load_from_local, safe_schemes_registered
from repl_mm.engine.hooks import use_safe_checkpoint_hook

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
import tiny_run  # noqa: E402


def test_registered():
    assert RUNNERS.get('ReplRunner') is ReplRunner
    assert HOOKS.get('SafeCheckpointHook') is SafeCheckpointHook
    assert issubclass(SafeCheckpointHook, CheckpointHook)


@pytest.mark.parametrize('given, expected', [
    (None, {'checkpoint': dict(type='SafeCheckpointHook', interval=1)}),
    ({'logger': dict(type='LoggerHook')},
     {'logger': dict(type='LoggerHook'),
      'checkpoint': dict(type='SafeCheckpointHook', interval=1)}),
    ({'checkpoint': dict(type='CheckpointHook', interval=3, max_keep_ckpts=2)},
     {'checkpoint': dict(type='SafeCheckpointHook', interval=3, max_keep_ckpts=2)}),
    ({'checkpoint': dict(type=CheckpointHook, interval=2)},
     {'checkpoint': dict(type='SafeCheckpointHook', interval=2)}),
    ({'checkpoint': None}, {'checkpoint': None}),                 # no checkpoints: kept
    ({'checkpoint': dict(type='MyCheckpointHook')},                # a user's own: kept
     {'checkpoint': dict(type='MyCheckpointHook')}),
])
def test_use_safe_checkpoint_hook(given, expected):
    assert use_safe_checkpoint_hook(given) == expected


def test_built_from_runner_type_with_the_hooks(tmp_path):
    from mmengine.registry import MODELS
    MODELS.register_module(module=tiny_run.ToyClassifier, force=True)
    cfg = dict(runner_type='ReplRunner', model=dict(type='ToyClassifier'),
               work_dir=str(tmp_path / 'b'),
               experiment_name='from_cfg', default_scope='mmengine',
               env_cfg=dict(dist_cfg=dict(backend='gloo')), log_level='WARNING')
    built = RUNNERS.build(cfg)
    assert type(built) is ReplRunner
    names = [type(h).__name__ for h in built.hooks]
    assert {'NonFiniteLossHook', 'RNGStateHook', 'SafeCheckpointHook'} <= set(names)
    assert 'CheckpointHook' not in names


def test_hooks_turned_off_are_not_added_again(tmp_path):
    runner = tiny_run.build_runner(str(tmp_path / 'w'), 'off', max_epochs=1,
                                   default_hooks=False)
    hooks = {type(h).__name__: h for h in runner.hooks}
    assert hooks['NonFiniteLossHook'].enabled is False and hooks['RNGStateHook'].enabled is False
    assert [type(h).__name__ for h in runner.hooks].count('NonFiniteLossHook') == 1


class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_load_stays_safe_after_another_package_replaced_the_scheme(tmp_path, monkeypatch):
    """A package registering mmengine's own (torch.load without weights_only) loader for local
    paths after repl_mm: ReplRunner registers the safe loaders again before it loads."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = tmp_path / 'ran'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': {'x': Payload(str(marker))}}, evil)
    runner = tiny_run.build_runner(str(tmp_path / 'w'), 'scheme', max_epochs=1)
    CheckpointLoader.register_scheme(prefixes='', loader=ckpt_mod.load_from_local, force=True)
    try:
        assert not safe_schemes_registered()
        with pytest.raises(UnsafeCheckpointError, match='posix.system'):
            runner.load_checkpoint(str(evil))
        assert not marker.exists()
        assert CheckpointLoader._get_checkpoint_loader(str(evil)) is load_from_local
    finally:
        CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    # control: mmengine's loader under the variable runs the payload
    ckpt_mod.load_from_local(str(evil), map_location='cpu')
    assert marker.exists()
