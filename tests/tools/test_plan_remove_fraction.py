"""``tools/analysis_tools/plan.py CONFIG --remove-fraction F`` prints the fraction plan of the
config's backbone and predicts its savings for that plan (Tables III-IV)."""
import os.path as osp

import pytest
from mmengine.config import Config

from repl_mm.analysis.fraction import fraction_replace_blocks, remove_fraction_options
from repl_mm.testing.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool() -> str:
    return osp.join(ROOT, 'tools', 'analysis_tools', 'plan.py')


@pytest.mark.parametrize('config,plan,removed', [
    ('cifar-resnet32_repl_cifar10', [[2], [2], [1, 3]], 4),
    ('vit-tiny-p8_repl_cifar10', [2, 5, 8], 3),
    ('resnet101_repl_imagenet', [[], [2], [3, 6, 9, 11, 14, 17, 20], []], 8),
])
def test_fraction_replace_blocks_of_configs(config, plan, removed):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config + '.py'))
    got, info = fraction_replace_blocks(cfg, 0.25)
    assert got == plan and info['removed'] == removed


def test_remove_fraction_options_prints_the_plan(capsys):
    opts = remove_fraction_options(osp.join(ROOT, 'configs/cifar-resnet32_repl_cifar10.py'),
                                   0.25)
    assert opts == {'model.backbone.replace_blocks': [[2], [2], [1, 3]]}
    out = capsys.readouterr().out
    assert 'removes 4 of 15 blocks (26.7%)' in out and 'at most 6 removable' in out


def test_cli_prints_plan_and_savings(capsys):
    tool = load_tool(_tool())
    plan = tool.main([osp.join(ROOT, 'configs/cifar-resnet32_repl_cifar10.py'),
                      '--remove-fraction', '0.25'])
    out = capsys.readouterr().out
    assert 'replace_blocks=[[2], [2], [1, 3]] removes 4 of 15 blocks' in out
    # the prediction is for that plan, not the config's K = 4 plan ([[3], [3], [3]])
    assert plan['cost']['plan'] == [[2], [2], [1, 3]]
    assert 'removes 4 of 15 blocks (26.7%)' in out.split('RepL plan:')[1]
    assert 'trainable params' in out
