"""The savings frontier: accuracy against measured cost for RepL, plain removal and an equally
cheap shallower network trained end to end (issue 28; cost model of §V-B, eq. 42-58).

For one RepL classification config and a list of removal fractions, every fraction ``f`` gives
a plan (:func:`~repl_mm.core.plan.fraction_plan`, the blocks nearest to ``f`` that the rules
allow) and three networks:

* ``repl``: the plan's blocks replaced by computing layers (eq. 8-15);
* ``remove-only``: the same blocks removed, nothing inserted;
* ``e2e-equal-cost``: a shallower network trained end to end whose *measured* training-step
  time is the nearest to ``repl``'s -- the remove-only network of the removal count whose step
  time is closest (:func:`choose_equal_cost`). Its depth is printed and recorded.

plus the E2E reference (nothing removed). Costs (trainable parameters, bytes saved for
backward (eq. 58), training-step time) are measured in one interleaved run and reported as
ratios to E2E. Accuracy comes from ``tools/multi_seed.py`` per point (``--jobs`` trainings at
a time). Everything is recorded in a JSON file that a second run resumes from: finished seeds
and measured costs are kept, never retrained or re-measured (``--remeasure`` to re-measure).
"""
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .stats import mean_std, welch_t

__all__ = ['METHODS', 'PAPER_CLAIM', 'depth_of', 'removal_candidates', 'choose_equal_cost',
           'point_options', 'plan_frontier', 'measure_points', 'train_points', 'load_state',
           'save_state', 'summarize', 'format_section', 'plot_frontier', 'run_frontier']

METHODS = ('repl', 'remove-only', 'e2e-equal-cost')
#: how step time is measured: process CPU time of one-thread steps. The frontier's trainings
#: run beside its measurement on a shared machine (and each other); wall time measured that
#: way put RepL at 4 removed blocks above E2E (1.078x) and at 3 below remove-only (0.705x),
#: while CPU time is what a core spends on the step whatever else runs.
TIMING_CLOCK = 'cpu'
TIMING_NOTE = 'process CPU time of one-thread training steps, interleaved (median)'
#: the paper's headline (ResNet-110, CIFAR-10, Table I / abstract): -20.1 % training time and
#: -18.2 % GPU memory at an accuracy equal to E2E
PAPER_CLAIM = dict(step_time_ratio=0.799, memory_ratio=0.818,
                   label='paper: -20.1 % time at E2E accuracy (ResNet-110, CIFAR-10)')


# ------------------------------------------------------------------------------------------
# plans
# ------------------------------------------------------------------------------------------
def depth_of(stage_blocks: Sequence[int], removed: int, convs_per_block: int = 2) -> int:
    """Weighted layers of a ResNet with ``removed`` of its blocks gone: stem conv + 2 (or 3)
    convs per kept block + the classifier (ResNet-32 = 1 + 15 * 2 + 1)."""
    return 2 + convs_per_block * (sum(stage_blocks) - removed)


def removal_candidates(stage_blocks: Sequence[int], bottleneck: Sequence[bool]
                       ) -> List[Tuple[int, List[List[int]]]]:
    """One plan for every removal count the rules allow, ``[(k, plan), ...]`` from ``k = 0``
    to the most removable, each the :func:`fraction_plan` for ``k / N``."""
    from ..core.plan import fraction_plan
    total = sum(stage_blocks)
    out: Dict[int, List[List[int]]] = {}
    for k in range(total):
        plan = fraction_plan(stage_blocks, k / total, list(bottleneck))
        out.setdefault(sum(len(p) for p in plan), plan)
    return sorted(out.items())


def choose_equal_cost(target: float, candidates: Dict[int, float]) -> Tuple[int, float]:
    """The removal count whose cost is nearest to ``target``.

    Args:
        target (float): the cost to match (e.g. RepL's step-time ratio to E2E).
        candidates (dict): removal count -> cost of the remove-only network with that count.

    Returns:
        tuple: ``(count, |cost - target|)``; a tie takes the deeper network (fewer removed).

    Raises:
        ValueError: no candidates.
    """
    if not candidates:
        raise ValueError('choose_equal_cost: no candidate networks')
    k = min(candidates, key=lambda c: (abs(candidates[c] - target), c))
    return k, abs(candidates[k] - target)


def point_options(method: str, plan: Optional[List[List[int]]], repl_type: str,
                  e2e_type: str) -> Dict[str, Any]:
    """``--cfg-options`` that turn the RepL config into one point's network."""
    if method == 'e2e':
        # the RepL backbone with nothing removed is the stock backbone (same keys, same
        # outputs); --cfg-options cannot delete the RepL keys a stock type would refuse
        return {'model.backbone.interval': None, 'model.backbone.replace_blocks': None,
                'model.backbone.remove_only': False}
    opts = {'model.backbone.interval': None, 'model.backbone.replace_blocks': plan,
            'model.backbone.remove_only': method != 'repl'}
    if method not in METHODS:
        raise ValueError(f'method must be one of {("e2e",) + METHODS}, got {method!r}')
    return opts


def _key(fraction: Optional[float], method: str) -> str:
    return 'e2e' if method == 'e2e' else f'{method}@{fraction:g}'


def plan_frontier(config: str, fractions: Sequence[float]) -> Dict[str, Any]:
    """The plans of every fraction and the candidates of the equal-cost search.

    Returns:
        dict: ``stage_blocks``, ``bottleneck``, ``repl_type``, ``e2e_type``, ``fractions``
        (``{f: {'plan', 'removed'}}``) and ``candidates`` (``[(k, plan)]``).
    """
    from mmengine.config import Config

    from .fraction import _full_backbone, stage_layout
    for f in fractions:
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
            raise ValueError(f'--fractions: each must be in (0, 1), got {f!r}')
    cfg = Config.fromfile(config)
    repl_type = cfg.model.backbone.type
    if not str(repl_type).endswith('RepL'):
        raise ValueError(f'{config}: model.backbone.type is {repl_type!r}; the frontier needs '
                         'a RepL config (a backbone type ending in RepL)')
    lengths, bottleneck, flat = stage_layout(_full_backbone(cfg))
    if flat:
        raise ValueError(f'{config}: the frontier supports ResNet-style backbones (stages of '
                         f'blocks); {repl_type} is a transformer')
    candidates = removal_candidates(lengths, bottleneck)
    plans = {}
    from ..core.plan import fraction_plan
    for f in fractions:
        plan = fraction_plan(lengths, f, bottleneck)
        plans[f'{f:g}'] = dict(plan=plan, removed=sum(len(p) for p in plan))
    return dict(stage_blocks=lengths, bottleneck=bottleneck, repl_type=repl_type,
                e2e_type=repl_type[:-len('RepL')], fractions=plans, candidates=candidates,
                convs_per_block=3 if any(bottleneck) else 2)


# ------------------------------------------------------------------------------------------
# cost
# ------------------------------------------------------------------------------------------
def measure_points(config: str, options: Dict[str, Dict[str, Any]], batch_size: int = 64,
                   reps: int = 5, warmup: int = 1, measure: Optional[Callable] = None
                   ) -> Dict[str, Dict[str, Any]]:
    """Params, activation bytes and step time of each named variant of ``config`` (its
    ``--cfg-options``), measured in one interleaved run (:func:`measure_configs`)."""
    measure = measure or measure_configs
    rows = measure(config, options, batch_size=batch_size, reps=reps, warmup=warmup)
    return rows


def measure_configs(config: str, options: Dict[str, Dict[str, Any]], batch_size: int = 64,
                    reps: int = 5, warmup: int = 1) -> Dict[str, Dict[str, Any]]:
    """One row per variant: ``params`` (trainable), ``activation_bytes`` (saved for backward,
    eq. 58), ``step_time_s`` (median of interleaved forward + loss + backward + optimizer
    steps on random images of the training crop, one torch thread, timed in process CPU time:
    :data:`TIMING_CLOCK`, :func:`.train_cost.measure_train_steps`)."""
    import torch

    from .train_cost import measure_train_steps
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as each training runs (--jobs N: one thread a training)
    try:
        measured = measure_train_steps({name: (config, opts) for name, opts in options.items()},
                                       batch_size=batch_size, reps=reps, warmup=warmup,
                                       clock=TIMING_CLOCK)
    finally:
        torch.set_num_threads(threads)
    return {name: dict(params=m['params'], activation_bytes=m['activation_bytes'],
                       batch_size=batch_size, input_size=[m['channels'], *m['size']],
                       step_time_s=m['timing'].median) for name, m in measured.items()}


def _ratios(rows: Dict[str, Dict[str, Any]]) -> None:
    ref = rows['e2e']
    for row in rows.values():
        for k in ('params', 'activation_bytes', 'step_time_s'):
            row[f'{k}_ratio'] = row[k] / ref[k]


# ------------------------------------------------------------------------------------------
# state (the resumable JSON)
# ------------------------------------------------------------------------------------------
def load_state(path: str) -> Dict[str, Any]:
    """The frontier JSON, or an empty state if the file does not exist.

    Raises:
        ValueError: the file exists but is not a frontier JSON (names the file).
    """
    if not osp.exists(path):
        return {}
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: not a readable frontier JSON ({err}); move it away or pass '
                         'another --out-json') from None
    if not isinstance(state, dict) or 'points' not in state:
        raise ValueError(f'{path}: not a frontier JSON (no "points"); move it away or pass '
                         'another --out-json')
    return state


def save_state(state: Dict[str, Any], path: str) -> None:
    """Writes the JSON crash-safely (temporary file, fsync, rename)."""
    from ..utils.atomic_write import atomic_write_text
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    atomic_write_text(path, json.dumps(state, indent=1, sort_keys=True))


def _compatible(state: Dict[str, Any], config: str, plans: Dict[str, Any]) -> None:
    if state and (state.get('config') != config
                  or state.get('stage_blocks') != plans['stage_blocks']):
        raise ValueError(f'the frontier JSON was made for {state.get("config")} '
                         f'(stage blocks {state.get("stage_blocks")}), not {config}: use '
                         'another --out-json')


# ------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------
def _metric_of(work_dir: str, seed: int, metric: str) -> Optional[float]:
    path = osp.join(work_dir, f'seed_{seed}', 'final_metrics.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        metrics = json.load(f)
    metrics = metrics.get('metrics', metrics)
    return float(metrics[metric]) if metric in metrics else None


def train_points(config: str, points: Dict[str, Dict[str, Any]], seeds: Sequence[int],
                 work_dir: str, jobs: int = 1, metric: str = 'accuracy/top1',
                 extra_options: Sequence[str] = (), root: Optional[str] = None,
                 on_done: Optional[Callable[[str, int, float], None]] = None,
                 runner: Optional[Callable[[List[str], Dict[str, str], str], int]] = None
                 ) -> List[str]:
    """Trains every point over the seeds through ``tools/multi_seed.py``, ``jobs`` at a time
    (each with ``cores // jobs`` threads), skipping finished seeds. ``extra_options`` are
    ``K=V`` strings for every training (the point's own options come last and win).
    ``root``: the checkout whose ``tools/multi_seed.py`` runs (default: the one of this
    package, or the installed ``repl_mm/.mim/tools``). Returns the failures."""
    from ..utils.config import package_env, tool_path
    from .evidence import job_threads
    runner = runner or _run
    todo = [(name, s) for name, p in points.items() for s in seeds
            if str(s) not in p.setdefault('seeds', {})]
    threads = job_threads(max(1, jobs))
    script = osp.join(root, 'tools', 'multi_seed.py') if root else tool_path('multi_seed.py')
    failures: List[str] = []

    def one(name: str, seed: int) -> Tuple[str, int, Optional[float]]:
        wd = osp.join(work_dir, name.replace('@', '_'))
        os.makedirs(wd, exist_ok=True)
        opts = [f'{k}={_cli(v)}' for k, v in points[name]['options'].items()]
        cmd = [sys.executable, script, config, '--seeds', str(seed), '--work-dir', wd,
               '--cfg-options', *extra_options, *opts]
        env = dict(package_env(os.environ), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        log = osp.join(wd, f'seed_{seed}.log')
        rc = runner(cmd, env, log)
        return name, seed, (_metric_of(wd, seed, metric) if rc == 0 else None)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, n, s) for n, s in todo]
        for fut in as_completed(futures):
            name, seed, value = fut.result()
            if value is None:
                failures.append(f'{name} seed {seed}: see '
                                f'{osp.join(work_dir, name.replace("@", "_"), f"seed_{seed}.log")}')
                continue
            points[name]['seeds'][str(seed)] = value
            if on_done is not None:
                on_done(name, seed, value)
    return failures


def _cli(value: Any) -> str:
    if value is None:
        return 'None'
    if isinstance(value, bool):
        return str(value)
    return json.dumps(value).replace(' ', '')


def _run(cmd: List[str], env: Dict[str, str], log: str) -> int:
    with open(log, 'a') as f:
        f.write('$ ' + ' '.join(shlex.quote(c) for c in cmd) + '\n')
        f.flush()
        return subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def summarize(state: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per point (E2E first, then by fraction and method) with mean ± std and Welch's
    t of RepL against each other method at the same fraction."""
    points = state['points']
    rows = []
    for name, p in sorted(points.items(), key=lambda kv: (kv[1].get('fraction') or 0,
                                                           _order(kv[1]['method']))):
        vals = list(p.get('seeds', {}).values())
        row = dict(name=name, **{k: p.get(k) for k in ('method', 'fraction', 'removed',
                                                         'depth', 'cost')})
        row['values'] = vals
        row.update(mean_std(vals) if vals else dict(mean=None, std=None, n=0))
        repl = None if p.get('fraction') is None else points.get(_key(p['fraction'], 'repl'))
        if p['method'] != 'repl' and repl is not None:
            a, b = list(repl.get('seeds', {}).values()), vals
            row['welch_vs_repl'] = welch_t(a, b) if len(a) >= 2 and len(b) >= 2 else None
        rows.append(row)
    return rows


def _order(method: str) -> int:
    return (('e2e',) + METHODS).index(method)


def format_section(state: Dict[str, Any], command: str, plot: Optional[str]) -> str:
    """The markdown of docs/evidence.md's "Savings frontier" section."""
    rows = summarize(state)
    lines = ['| point | method | removed | depth | params | activation memory | step time | '
             f'{state["metric"]} (mean ± std) | n | per seed | RepL - it (Welch t, p) |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for r in rows:
        c = r['cost'] or {}
        acc = '—' if r['mean'] is None else f'{r["mean"]:.2f} ± {r["std"]:.2f}'
        w = r.get('welch_vs_repl')
        wt = '' if not w else f'{w["diff"]:+.2f} (t={w["t"]:.2f}, p={w["p"]:.3f})'
        frac = '' if r['fraction'] is None else f'{r["fraction"]:g}'
        lines.append(
            f'| {frac or "E2E"} | {r["method"]} | {r["removed"]} | {r["depth"]} | '
            f'{c.get("params", 0):,} ({c.get("params_ratio", 1):.3f}) | '
            f'{c.get("activation_bytes", 0) / 2**20:.1f} MiB '
            f'({c.get("activation_bytes_ratio", 1):.3f}) | '
            f'{c.get("step_time_s", 0) * 1e3:.0f} ms ({c.get("step_time_s_ratio", 1):.3f}) | '
            f'{acc} | {r["n"]} | {", ".join(f"{v:.2f}" for v in r["values"])} | {wt} |')
    out = lines + ['', f'Command: `{command}`', '',
                   f'Machine: {state.get("machine", "")}; measured on {state.get("date", "")}; '
                   f'step time: {state.get("timing", "wall time, interleaved (median)")}.']
    if plot:
        out += ['', f'![savings frontier]({osp.basename(plot)})']
    return '\n'.join(out)


def plot_frontier(state: Dict[str, Any], path: str) -> None:
    """Accuracy (mean ± std) against the step-time ratio, one line per method, the E2E
    reference as a point and the paper's claim marked."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [r for r in summarize(state) if r['mean'] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    e2e = next((r for r in rows if r['method'] == 'e2e'), None)
    for method, marker in zip(METHODS, 'osD'):
        pts = sorted((r['cost']['step_time_s_ratio'], r['mean'], r['std'])
                     for r in rows if r['method'] == method)
        if pts:
            xs, ys, es = zip(*pts)
            ax.errorbar(xs, ys, yerr=es, marker=marker, capsize=3, label=method)
    if e2e is not None:
        ax.errorbar([1.0], [e2e['mean']], yerr=[e2e['std']], marker='*', markersize=10,
                    color='k', capsize=3, linestyle='none', label='E2E')
        ax.plot([PAPER_CLAIM['step_time_ratio']], [e2e['mean']], marker='X', markersize=11,
                color='red', linestyle='none', label=PAPER_CLAIM['label'])
    ax.set_xlabel('training-step time / E2E (measured)')
    ax.set_ylabel(f'{state["metric"]} (mean ± std over seeds)')
    ax.set_title(f'Savings frontier: {osp.basename(state["config"])}')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write_section(path: str, name: str, body: str) -> None:
    from ..utils.marked_block import write_marked_block
    write_marked_block(path, f'<!-- BEGIN frontier:{name} -->', f'<!-- END frontier:{name} -->',
                       body)


# ------------------------------------------------------------------------------------------
# the whole run
# ------------------------------------------------------------------------------------------
def run_frontier(config: str, fractions: Sequence[float], seeds: Sequence[int],
                 work_dir: str, out_json: str, jobs: int = 1, metric: str = 'accuracy/top1',
                 batch_size: int = 64, reps: int = 5, extra_options: Sequence[str] = (),
                 remeasure: bool = False, measure_only: bool = False,
                 plot: Optional[str] = None, doc: Optional[str] = None, section: str = 'main',
                 command: str = '', root: Optional[str] = None, log: Callable[[str], None] = print,
                 measure: Optional[Callable] = None, runner: Optional[Callable] = None
                 ) -> Dict[str, Any]:
    """Plans, measures (unless already in ``out_json``), trains (finished seeds kept), writes
    the JSON after every finished training, the plot and the markdown section."""
    plans = plan_frontier(config, fractions)
    state = load_state(out_json)
    _compatible(state, config, plans)
    state.update(config=config, stage_blocks=plans['stage_blocks'], metric=metric)
    points = state.setdefault('points', {})
    rt, et, cpb = plans['repl_type'], plans['e2e_type'], plans['convs_per_block']
    # cost of E2E, of each fraction's RepL / remove-only and of every remove-only candidate
    options = {'e2e': point_options('e2e', None, rt, et)}
    for f, info in plans['fractions'].items():
        options[f'repl@{f}'] = point_options('repl', info['plan'], rt, et)
        options[f'remove-only@{f}'] = point_options('remove-only', info['plan'], rt, et)
    for k, plan in plans['candidates']:
        if k:
            options[f'candidate@{k}'] = point_options('remove-only', plan, rt, et)
    # costs measured with another clock (older files: wall time) are measured again
    if remeasure or 'cost' not in state or state.get('timing') != TIMING_NOTE:
        t0 = time.time()
        rows = measure_points(config, options, batch_size=batch_size, reps=reps,
                              measure=measure)
        _ratios(rows)
        state['cost'] = rows
        state['cost_s'] = time.time() - t0
        from .timing import machine_info
        state['machine'] = _machine_line(machine_info('cpu'))
        state['date'] = time.strftime('%Y-%m-%d')
        state['timing'] = TIMING_NOTE
    cost = state['cost']
    cands = {0: cost['e2e']['step_time_s_ratio']}
    cands.update({k: cost[f'candidate@{k}']['step_time_s_ratio']
                  for k, _ in plans['candidates'] if k})
    plan_of = dict(plans['candidates'])
    points.setdefault('e2e', dict(method='e2e', fraction=None, removed=0,
                                  options=options['e2e']))
    points['e2e'].update(depth=depth_of(plans['stage_blocks'], 0, cpb), cost=cost['e2e'])
    for f, info in plans['fractions'].items():
        fv = float(f)
        for method in ('repl', 'remove-only'):
            p = points.setdefault(_key(fv, method), dict(method=method, fraction=fv))
            p.update(removed=info['removed'], options=options[f'{method}@{f}'],
                     depth=depth_of(plans['stage_blocks'], info['removed'], cpb),
                     cost=cost[f'{method}@{f}'])
        target = cost[f'repl@{f}']['step_time_s_ratio']
        k, gap = choose_equal_cost(target, cands)
        eq_opts = options['e2e'] if k == 0 else options[f'candidate@{k}']
        eq = points.setdefault(_key(fv, 'e2e-equal-cost'),
                               dict(method='e2e-equal-cost', fraction=fv))
        if eq.get('removed') not in (None, k):  # a re-measurement chose another network
            eq['seeds'] = {}
        eq.update(removed=k, options=eq_opts, plan=plan_of[k],
                  depth=depth_of(plans['stage_blocks'], k, cpb),
                  cost=cost['e2e'] if k == 0 else cost[f'candidate@{k}'], target=target,
                  gap=gap)
        log(f'[frontier] f={f}: RepL removes {info["removed"]} blocks (depth '
            f'{depth_of(plans["stage_blocks"], info["removed"], cpb)}), step time '
            f'{target:.3f} x E2E; equal-cost E2E network: {k} blocks removed, depth '
            f'{eq["depth"]}, step time {cands[k]:.3f} x E2E (gap {gap:.3f})')
    save_state(state, out_json)
    if not measure_only:
        def done(name: str, seed: int, value: float) -> None:
            log(f'[frontier] {name} seed {seed}: {metric} {value:.2f}')
            save_state(state, out_json)
        failures = train_points(config, points, seeds, work_dir, jobs=jobs, metric=metric,
                                extra_options=extra_options, root=root, on_done=done,
                                runner=runner)
        save_state(state, out_json)
        if failures:
            raise RuntimeError('frontier: failed trainings (rerun to retry, finished ones are '
                               'kept):\n  ' + '\n  '.join(failures))
    if plot:
        plot_frontier(state, plot)
    if doc:
        _write_section(doc, section, format_section(state, command, plot))
    return state


def _machine_line(info: Dict[str, Any]) -> str:
    keys = ('cpu', 'cores', 'threads', 'torch')
    return ', '.join(f'{k} {info[k]}' for k in keys if k in info) or json.dumps(info)
