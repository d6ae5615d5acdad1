"""tools/analysis_tools/{benchmark,plan,benchmark_report,plot_savings}.py end to end on a tiny
model (CIFAR ResNet-32 on 8x8 inputs, batch 2, one repetition), and plan.py / benchmark.py on mm
configs we do not ship (a Faster R-CNN swap config, README's DeepLabV3 snippet)."""
import importlib
import importlib.util
import json
import os.path as osp
import re

import pytest

from repl_mm.testing.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = ['--input-size', '8', '--batch-size', '2', '--reps', '1', '--warmup', '0']


def load(name):
    return load_tool(f'tools/analysis_tools/{name}.py')


def test_benchmark_tool_end_to_end(tmp_path, capsys):
    out = tmp_path / 'r.json'
    res = load('benchmark').main(['resnet32-cifar', *TINY, '--compat', '--json', str(out)])
    text = capsys.readouterr().out
    assert 'RepL benchmark: resnet32-cifar' in text
    assert 'plan (0-based removed blocks per stage) [[3], [3], [3]] = 3 of 15 blocks' in text
    for scope in ('backbone', 'model'):
        assert f'[{scope}] Table IX' in text
        assert set(res['scopes'][scope]['variants']) == {
            'e2e', 'repl', 'e2e+cp', 'repl+cp', 'e2e+sd', 'repl+sd'}
    exact = [c for c in res['checks'] if 'eq. 42' in c['name'] or 'eq. 53' in c['name']
             or 'eq. 58' in c['name'] or 'deploy ==' in c['name']]
    assert len(exact) == 2 * 3 * 4 + 2 and all(c['ok'] for c in exact)
    assert json.loads(out.read_text())['plan'] == [[3], [3], [3]]


def test_benchmark_tool_config_pair_and_options(capsys):
    res = load('benchmark').main([
        'configs/cifar-resnet32_repl_cifar10.py', 'configs/cifar-resnet32_cifar10.py', *TINY,
        '--scope', 'backbone', '--no-time', '--cfg-options', 'model.backbone.interval=2'])
    assert res['plan'] == [[1, 3]] * 3
    assert 'step' not in ''.join(res['scopes']['backbone']['variants']['repl'])
    assert res['inference']['backbone'][2]['max_rel_diff'] <= 1e-5


def test_plan_tool(capsys, tmp_path):
    plan = load('plan').main(['resnet32-cifar', '--input-size', '8', '--batch-size', '4',
                              '--json', str(tmp_path / 'p.json')])
    text = capsys.readouterr().out
    assert 'removes 3 of 15 blocks (20.0%)' in text
    assert 'stage 2: 5 blocks, removed: layer2.3 (r=4)' in text
    assert 'eta_basic = 0.5 (eq. 56)' in text
    cost = plan['cost']
    assert [s['eta'] for s in cost['sites']] == [0.5] * 3
    assert cost['pred_params'] < cost['params']
    with pytest.raises(SystemExit) as e:   # one line naming the option and the fix
        load('plan').main(['resnet32-cifar', '--scope', 'model'])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: scope='model' runs the loss, which the meta device cannot: pass "
                   "device='cpu'"]


def test_report_and_plot(tmp_path, capsys):
    report = load('benchmark_report')
    md = tmp_path / 'b.md'
    md.write_text('# prose kept\n\n<!-- BEGIN GENERATED -->\nold\n<!-- END GENERATED -->\ntail\n')
    js = tmp_path / 'b.json'
    data = report.main(['--only', 'resnet32', *TINY, '--json', str(js), '--md', str(md)])
    assert set(data['rows']) == {'resnet32'}
    text = md.read_text()
    assert text.startswith('# prose kept') and text.rstrip().endswith('tail')
    assert 'old' not in text
    assert '| ResNet-32 (I (CIFAR-10)) | model, 2x8x8 | 3/15 | 20.4% / 21.5% |' in text
    assert '### Table IX' in text and '| ResNet-32 | repl+cp |' in text
    png = tmp_path / 'savings.png'
    rows = load('plot_savings').main([str(js), '--out', str(png)])
    assert png.stat().st_size > 10000 and rows[0]['label'] == 'ResNet-32'
    with pytest.raises(ValueError, match='unknown rows'):
        report.main(['--only', 'resnet-9000', '--json', str(js), '--md', str(md)])


# --------------------------------------------------------------------------------------------
# plan.py and benchmark.py on mm configs we do not ship (ConfigDicts kept, any head)
# --------------------------------------------------------------------------------------------
FASTER_RCNN_SWAP = """_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['repl_mm'], allow_failed_imports=False)
model = dict(backbone=dict(type='ResNetRepL', interval=4))
"""

# ResNet-50 with K = 4 (eq. 16): stages of 3, 4, 6, 3 blocks, only layer3.3 (r = 4) goes. It is
# a Bottleneck with C = 1024 output and B = 256 middle channels:
C, B = 1024, 256
P_R = 2 * C * B + B * B * 9 + 4 * B + 2 * C       # eq. 46: 1,117,184
A_R = 2 * B + 2 * C                                 # eq. 47: 2,560


def _readme_snippet(scope: str) -> str:
    text = open(osp.join(ROOT, 'README.md')).read()
    section = text.split('## Swapping RepL into an existing mm config', 1)[1]
    section = section.split('\n## ', 1)[0]
    snippets = [s for s in re.findall(r'```python\n(.*?)```', section, flags=re.S)
                if f"_base_ = '{scope}::" in s]
    assert len(snippets) == 1, snippets
    return snippets[0]


def _stock_backbone_params(cfg_path: str, scope: str):
    """(all, trainable) parameters of the config's backbone with the stock class, counted on
    the toolbox's own ResNet (not through repl_mm.analysis)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    registry = importlib.import_module(f'{scope}.registry').MODELS
    cfg = Config.fromfile(cfg_path).model.backbone
    cfg.type = cfg.type[:-len('RepL')]
    cfg.pop('interval')
    with DefaultScope.overwrite_default_scope(scope):
        bb = registry.build(cfg)
    bb.train()  # frozen_stages takes effect in train()
    return (sum(p.numel() for p in bb.parameters()),
            sum(p.numel() for p in bb.parameters() if p.requires_grad))


def test_plan_tool_on_a_faster_rcnn_swap_config(tmp_path, capsys):
    """Faster R-CNN: ConfigDicts kept (its RPN reads ``train_cfg.rpn``), the ground truth's
    classes from ``roi_head.bbox_head``; ``frozen_stages=1`` freezes the stem and layer1 (not
    the removed layer3.3), so the trainable saving is eq. 46/47 too."""
    cfg = tmp_path / 'faster_rcnn_repl.py'
    cfg.write_text(FASTER_RCNN_SWAP)
    plan = load('plan').main([str(cfg)])
    text = capsys.readouterr().out
    assert 'removes 1 of 16 blocks (6.2%)' in text
    assert 'stage 3: 6 blocks, removed: layer3.3 (r=4)' in text
    assert '  stage 1: 3 blocks, removed: none' in text
    assert text.count('columns: P_r') == 1  # the one-line legend
    assert plan['input_size'] == [800, 1344]  # the config's Resize (1333, 800), padded to 32
    params, trainable = _stock_backbone_params(str(cfg), 'mmdet')
    c = plan['cost']
    site, = c['sites']
    assert (site['name'], site['params'], site['layer_params']) == ('layer3.3', P_R, A_R)
    assert (site['trainable_params'], site['layer_trainable_params']) == (P_R, A_R)
    assert (c['params'], c['trainable_params']) == (params, trainable)
    assert trainable < params  # the frozen stem and layer1
    assert c['pred_params'] == params - (P_R - A_R)                       # eq. 42
    assert c['pred_trainable_params'] == trainable - (P_R - A_R)
    from repl_mm.analysis import format_si
    row = next(line for line in text.splitlines() if line.startswith('params '))
    assert format_si(params) in row and format_si(params - (P_R - A_R)) in row
    row = next(line for line in text.splitlines() if line.startswith('layer3.3 '))
    assert row.split()[:4] == ['layer3.3', 'bottleneck', format_si(P_R), str(A_R)]


def test_plan_tool_on_the_readme_deeplabv3_snippet(tmp_path, capsys):
    """README's DeepLabV3 snippet: the EncoderDecoder sets ``backbone.pretrained`` by
    attribute, SyncBN is reverted to BN, the classes come from ``decode_head``."""
    cfg = tmp_path / 'deeplabv3_repl.py'
    cfg.write_text(_readme_snippet('mmseg'))
    plan = load('plan').main([str(cfg), '--input-size', '64', '128'])
    text = capsys.readouterr().out
    assert 'removes 1 of 16 blocks (6.2%)' in text
    assert 'stage 3: 6 blocks, removed: layer3.3 (r=4)' in text
    params, trainable = _stock_backbone_params(str(cfg), 'mmseg')
    assert params == trainable  # nothing frozen in this config
    c = plan['cost']
    site, = c['sites']
    assert (site['params'], site['layer_params']) == (P_R, A_R)
    assert c['pred_params'] == c['pred_trainable_params'] == params - (P_R - A_R)  # eq. 42
    row = next(line for line in text.splitlines() if line.startswith('params '))
    from repl_mm.analysis import format_si
    assert format_si(params) in row and format_si(params - (P_R - A_R)) in row


def test_benchmark_tool_on_a_faster_rcnn_swap_config(tmp_path, capsys):
    """benchmark.py builds the RepL Faster R-CNN and its twin and measures eq. 42 exactly."""
    cfg = tmp_path / 'faster_rcnn_repl.py'
    cfg.write_text(FASTER_RCNN_SWAP)
    res = load('benchmark').main([str(cfg), '--input-size', '64', '--batch-size', '1',
                                  '--scope', 'both', '--no-time', '--no-inference'])
    assert res['plan'] == [[], [], [3], []]
    params, trainable = _stock_backbone_params(str(cfg), 'mmdet')
    bb = res['scopes']['backbone']['variants']
    assert (bb['e2e']['params'], bb['e2e']['trainable_params']) == (params, trainable)
    assert bb['repl']['params'] == params - (P_R - A_R)
    assert bb['repl']['trainable_params'] == trainable - (P_R - A_R)
    model = res['scopes']['model']['variants']
    assert model['e2e']['params'] - model['repl']['params'] == P_R - A_R
    assert all(c['ok'] for c in res['checks'] if 'eq. 42' in c['name'])


def test_plot_savings_reads_reductions_and_intervals_from_the_json():
    """docs/benchmarks.json -> reductions ``100 (1 - RepL/E2E)``; the step time carries the
    measured 95 % bootstrap interval as a reduction interval, the exact counts none."""
    with open(osp.join(ROOT, 'docs', 'benchmarks.json')) as f:
        data = json.load(f)
    from repl_mm.analysis.plot_savings import collect
    rows = collect(data)
    r = data['rows']['resnet32']
    v = r['scopes']['model']['variants']
    pred = r['scopes']['model']['predictions']['repl']
    row = rows[0]
    assert row['label'] == 'ResNet-32'
    assert row['measured'][0] == pytest.approx(
        100 * (1 - v['repl']['trainable_params'] / v['e2e']['trainable_params']))
    assert row['measured'][1] == pytest.approx(
        100 * (1 - v['repl']['activation'] / v['e2e']['activation']))
    assert row['measured'][2] == pytest.approx(100 * (1 - v['repl']['step_time_ratio']))
    assert row['predicted'][2] == pytest.approx(100 * (1 - pred['ratios']['time']))
    lo, hi = v['repl']['step_time_ratio_ci']
    assert row['measured_ci'] == [None, None, [pytest.approx(100 * (1 - hi)),
                                               pytest.approx(100 * (1 - lo))]]
    assert row['paper'] == [None, 20.4, 21.5]  # Table I: memory, time
    assert row['measured_ci'][2][0] <= row['measured'][2] <= row['measured_ci'][2][1]
