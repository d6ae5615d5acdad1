"""tools/analysis_tools/{benchmark,plan,benchmark_report,plot_savings}.py end to end on a tiny
model (CIFAR ResNet-32 on 8x8 inputs, batch 2, one repetition)."""
import importlib.util
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = ['--input-size', '8', '--batch-size', '2', '--reps', '1', '--warmup', '0']


def load(name):
    path = osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'repl_bench_tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    with pytest.raises(ValueError, match='meta device cannot'):
        load('plan').main(['resnet32-cifar', '--scope', 'model'])


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

