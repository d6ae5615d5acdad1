"""The savings frontier (repl_mm.analysis.frontier, tools/analysis_tools/frontier.py):
plans, the equal-cost choice, the resumable JSON, the plot and the markdown section."""
import json
import os
import os.path as osp

import pytest

import repl_mm  # noqa: F401
from repl_mm.analysis.frontier import (
    choose_equal_cost,
    depth_of,
    load_state,
    plan_frontier,
    point_options,
    removal_candidates,
    run_frontier,
)
from repl_mm.analysis.stats import mean_std, welch_t
from repl_mm.core.plan import validate_plan

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'cifar-resnet32_repl_fashion-mnist.py')


def test_welch_and_mean_std_numbers():
    # by hand: se = sqrt(5/3 / 4 + 20/3 / 4) = sqrt(25/12), t = -2.5 / se = -sqrt(3);
    # df = (25/12)^2 / ((5/12)^2 / 3 + (5/3)^2 / 3) = 75/17; scipy's ttest_ind(equal_var=False)
    # gives p = 0.15158
    w = welch_t([1, 2, 3, 4], [2, 4, 6, 8])
    assert w['t'] == pytest.approx(-3 ** 0.5)
    assert w['df'] == pytest.approx(75 / 17)
    assert w['p'] == pytest.approx(0.15158, abs=1e-4)
    assert w['diff'] == -2.5
    assert mean_std([1, 2, 3, 4]) == dict(mean=2.5, std=pytest.approx(1.2909944), n=4)
    assert welch_t([1, 1], [1, 1])['p'] == 1.0 and welch_t([2, 2], [1, 1])['t'] == float('inf')
    with pytest.raises(ValueError, match='at least 2 values'):
        welch_t([1], [1, 2])


def test_candidates_depths_and_equal_cost_choice():
    cands = removal_candidates([5, 5, 5], [False] * 3)
    assert [k for k, _ in cands] == [0, 1, 2, 3, 4, 5, 6]   # 2 removable per 5-block stage
    for k, plan in cands:
        assert validate_plan(plan, [5, 5, 5]) == plan
        assert sum(len(p) for p in plan) == k
    assert cands[3][1] == [[2], [2], [2]]                   # evenly spread, one a stage
    assert depth_of([5, 5, 5], 0) == 32 and depth_of([5, 5, 5], 6) == 20
    costs = {0: 1.0, 1: 0.9375, 2: 0.875, 3: 0.75, 4: 0.625}   # exact in binary
    assert choose_equal_cost(0.8625, costs) == (2, pytest.approx(0.0125))
    assert choose_equal_cost(0.8125, costs)[0] == 2         # a tie keeps the deeper network
    assert choose_equal_cost(2.0, costs) == (0, pytest.approx(1.0))
    with pytest.raises(ValueError, match='no candidate'):
        choose_equal_cost(1.0, {})


def test_point_options_and_plans_from_the_config():
    plans = plan_frontier(CONFIG, [0.2, 0.27, 0.4])
    assert plans['stage_blocks'] == [5, 5, 5] and plans['e2e_type'] == 'CifarResNet'
    assert {f: p['removed'] for f, p in plans['fractions'].items()} == \
        {'0.2': 3, '0.27': 4, '0.4': 6}
    assert point_options('remove-only', [[1], [], []], 'CifarResNetRepL', 'CifarResNet') == {
        'model.backbone.interval': None, 'model.backbone.replace_blocks': [[1], [], []],
        'model.backbone.remove_only': True}
    assert point_options('e2e', None, 'CifarResNetRepL', 'CifarResNet') == {
        'model.backbone.interval': None, 'model.backbone.replace_blocks': None,
        'model.backbone.remove_only': False}
    with pytest.raises(ValueError, match='fractions'):
        plan_frontier(CONFIG, [0.0])
    with pytest.raises(ValueError, match='needs a RepL config'):
        plan_frontier(osp.join(ROOT, 'configs', 'cifar-resnet32_fashion-mnist.py'), [0.2])


def fake_measure(config, options, **kw):
    """Step time falls 0.06 per removed block, computing layers add 0.03 each; params too."""
    rows = {}
    for name, o in options.items():
        plan = o.get('model.backbone.replace_blocks') or []
        removed = sum(len(p) for p in plan)
        layers = 0 if o.get('model.backbone.remove_only', True) else removed
        rows[name] = dict(params=1000 - 50 * removed + 5 * layers,
                          activation_bytes=10000 - 600 * removed + 300 * layers,
                          step_time_s=1.0 - 0.06 * removed + 0.03 * layers)
    return rows


class FakeRunner:
    """Writes final_metrics.json as multi_seed.py would; accuracy depends on the point."""

    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def __call__(self, cmd, env, log):
        wd = cmd[cmd.index('--work-dir') + 1]
        seed = int(cmd[cmd.index('--seeds') + 1])
        self.calls.append((osp.basename(wd), seed))
        assert env['OMP_NUM_THREADS'] == str(max(1, (os.cpu_count() or 1) // 2))
        if (osp.basename(wd), seed) in self.fail:
            return 1
        acc = 90.0 - len(osp.basename(wd)) * 0.1 + seed * 0.3
        os.makedirs(osp.join(wd, f'seed_{seed}'), exist_ok=True)
        with open(osp.join(wd, f'seed_{seed}', 'final_metrics.json'), 'w') as f:
            json.dump(dict(metrics={'accuracy/top1': acc}), f)
        return 0


def test_run_resume_plot_and_section(tmp_path):
    out, doc, png = tmp_path / 'f.json', tmp_path / 'evidence.md', tmp_path / 'f.png'
    doc.write_text('# Evidence\n\nkept text\n')
    runner = FakeRunner(fail={('repl_0.4', 1)})
    kw = dict(work_dir=str(tmp_path / 'w'), out_json=str(out), jobs=2, measure=fake_measure,
              plot=str(png), doc=str(doc), command='cmd', log=lambda *_: None)
    with pytest.raises(RuntimeError, match='repl@0.4 seed 1'):
        run_frontier(CONFIG, [0.2, 0.4], [0, 1], runner=runner, **kw)
    state = load_state(str(out))
    # 1 E2E + 2 fractions x 3 methods, 2 seeds each, one failed
    assert len(runner.calls) == 14
    assert state['points']['repl@0.4']['seeds'] == {'0': pytest.approx(89.2)}
    # RepL at 0.2 removes 3 blocks: 1 - 0.18 + 0.09 = 0.91 -> the remove-only network with
    # 1 or 2 removed (0.94 / 0.88): 0.94 is 0.03 away, 0.88 is 0.03 away -> deeper (1 removed)
    eq = state['points']['e2e-equal-cost@0.2']
    assert eq['removed'] == 1 and eq['depth'] == 30
    assert eq['gap'] == pytest.approx(0.03) and eq['target'] == pytest.approx(0.91)
    eq4 = state['points']['e2e-equal-cost@0.4']     # 1 - 0.36 + 0.18 = 0.82 -> 3 removed
    assert eq4['removed'] == 3 and eq4['cost']['step_time_s_ratio'] == pytest.approx(0.82)
    # the resumed run retrains only the failed seed, and does not re-measure
    runner2 = FakeRunner()
    state = run_frontier(CONFIG, [0.2, 0.4], [0, 1], runner=runner2,
                         **dict(kw, measure=lambda *a, **k: pytest.fail('re-measured')))
    assert runner2.calls == [('repl_0.4', 1)]
    assert all(len(p['seeds']) == 2 for p in state['points'].values())
    assert png.stat().st_size > 10000
    text = doc.read_text()
    assert text.startswith('# Evidence\n\nkept text\n') and text.count('BEGIN frontier:main') == 1
    assert '| 0.4 | e2e-equal-cost | 3 | 26 |' in text
    run_frontier(CONFIG, [0.2, 0.4], [0, 1], runner=runner2, **dict(kw, measure=None))
    assert doc.read_text().count('BEGIN frontier:main') == 1 and len(runner2.calls) == 1


def test_a_foreign_json_is_refused(tmp_path):
    bad = tmp_path / 'f.json'
    bad.write_text('{"not": "a frontier"}')
    with pytest.raises(ValueError, match='not a frontier JSON'):
        load_state(str(bad))


def test_measured_costs_order_on_the_real_model():
    """Real measurement, tiny batch: remove-only < RepL < E2E in parameters and saved bytes."""
    from repl_mm.analysis.frontier import measure_configs
    plan = [[3], [3], [3]]
    rows = measure_configs(CONFIG, {
        'e2e': point_options('e2e', None, 'CifarResNetRepL', 'CifarResNet'),
        'repl': point_options('repl', plan, 'CifarResNetRepL', 'CifarResNet'),
        'ro': point_options('remove-only', plan, 'CifarResNetRepL', 'CifarResNet')},
        batch_size=2, reps=1, warmup=0)
    assert rows['e2e']['input_size'] == [1, 28, 28]
    p = {k: r['params'] for k, r in rows.items()}
    # eq. 44: a BasicBlock computing layer trains 4C parameters (alpha, beta, BN gamma/beta)
    assert p['repl'] - p['ro'] == 4 * (16 + 32 + 64)
    assert p['ro'] < p['repl'] < p['e2e']
    a = {k: r['activation_bytes'] for k, r in rows.items()}
    assert a['ro'] < a['repl'] < a['e2e']
    assert all(r['step_time_s'] > 0 for r in rows.values())


def test_costs_of_another_clock_are_measured_again(tmp_path):
    """A file whose costs were timed in wall time (before TIMING_CLOCK) is re-measured once;
    the section names the clock."""
    from repl_mm.analysis.frontier import TIMING_NOTE
    out, doc = tmp_path / 'f.json', tmp_path / 'e.md'
    doc.write_text('# E\n')
    kw = dict(work_dir=str(tmp_path / 'w'), out_json=str(out), jobs=1, measure_only=True,
              doc=str(doc), command='cmd', log=lambda *_: None)
    run_frontier(CONFIG, [0.2], [0], measure=fake_measure, **kw)
    state = load_state(str(out))
    assert state['timing'] == TIMING_NOTE
    assert f'step time: {TIMING_NOTE}.' in doc.read_text()
    state.pop('timing')                      # as an older file, measured in wall time
    state['cost']['e2e']['step_time_s'] = 9.0
    out.write_text(json.dumps(state))
    calls = []

    def measure(*a, **k):
        calls.append(1)
        return fake_measure(*a, **k)
    state = run_frontier(CONFIG, [0.2], [0], measure=measure, **kw)
    assert calls == [1] and state['cost']['e2e']['step_time_s'] == pytest.approx(1.0)
    run_frontier(CONFIG, [0.2], [0], measure=lambda *a, **k: pytest.fail('re-measured'), **kw)
