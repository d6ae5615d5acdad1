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


def test_cli_prints_the_plan_used_not_the_default_interval(capsys):
    """issue 23 item 6: an explicit plan is printed as such, never beside "interval K = 4"."""
    tool = load_tool(_tool())
    plan = tool.main([osp.join(ROOT, 'configs/cifar-resnet32_repl_cifar10.py'),
                      '--remove-fraction', '0.25'])
    out = capsys.readouterr().out.split('RepL plan:')[1]
    assert 'replace_blocks = [[2], [2], [1, 3]] (explicit plan; no interval used)' in out
    assert 'interval K = 4' not in out and plan['interval'] is None
    assert plan['cost']['homogeneous']['params_eq52'] is None   # eq. 52 assumes R/N = 1/K
    tool.main([osp.join(ROOT, 'configs/cifar-resnet32_repl_cifar10.py')])
    assert 'interval K = 4: removes 3 of 15 blocks' in capsys.readouterr().out


def test_config_that_cannot_build_gets_one_line(tmp_path, capsys):
    """issue 23 item 5: plan.py on a config whose model cannot be built from the config alone
    (here: a model that needs a missing data file) -> one line naming it, no traceback."""
    from repl_mm.analysis import load_spec
    from repl_mm.analysis.predict import ConfigBuildError, build_from_config_alone
    cfg = tmp_path / 'lm.py'
    cfg.write_text(f"_base_ = '{ROOT}/configs/transformer-lm-12l_repl_wikitext2.py'\n"
                   f"data_root = '{tmp_path}/nowhere'\n"
                   f"model = dict(vocab_from='{tmp_path}/nowhere/wiki.train.tokens', "
                   "vocab_size_without_data=None)\n")
    with pytest.raises(ConfigBuildError) as e:
        build_from_config_alone(load_spec(str(cfg), None, (8,)))
    msg = str(e.value)
    assert '\n' not in msg and 'wiki.train.tokens' in msg and 'model.vocab_size' in msg
    # through the tool (and the real LM config, which now builds): one line, no traceback
    for config in (str(cfg), osp.join(ROOT, 'configs/transformer-lm-12l_repl_wikitext2.py')):
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            load_tool(_tool()).main([config])
        assert e.value.code == 2
        lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith('error: ')
        assert osp.basename(config) in lines[0]


def test_lm_config_builds_without_its_data(tmp_path, monkeypatch):
    """issue 23 item 5: the Transformer-LM configs build from the config alone (shapes only);
    the vocabulary size is then the config's, unrecorded (zero digest), and checked against
    the data by VocabularyCheckHook before training / evaluation."""
    from repl_mm.deploy import build_model_from_config
    monkeypatch.setenv('WIKITEXT2_ROOT', str(tmp_path / 'nowhere'))
    for name in ('transformer-lm-12l_wikitext2', 'transformer-lm-12l_repl_wikitext2'):
        model, cfg = build_model_from_config(osp.join(ROOT, 'configs', name + '.py'))
        assert model.vocab_size == cfg.model.vocab_size_without_data == 33278
        assert int(model.vocab_digest.sum()) == 0
