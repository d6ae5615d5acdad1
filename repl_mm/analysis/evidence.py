"""Real-data evidence: accuracy over seeds and measured cost, per config (docs/evidence.md;
``tools/analysis_tools/evidence.py``, :mod:`repl_mm.cli.evidence`).

For every config it

1. trains it over the seeds with ``tools/multi_seed.py`` (``--epochs`` overrides
   ``train_cfg.max_epochs``; resumable: finished seeds are kept) and reads the mean ± sample
   std of each metric (``WORK_DIR/<config>/multi_seed.json``). ``--jobs N`` runs N
   trainings (one config, one seed) at a time, each with ``cores // N`` threads
   (``OMP_NUM_THREADS``) and its output in ``WORK_DIR/<config>/seed_<S>.log``; the costliest
   configs (measured step time x epochs) start first (:func:`train_all`);
2. measures, in this same run (before the training, on an idle machine), the trainable
   parameters (eq. 42), the activation memory of one training step (bytes autograd saves for
   backward, eq. 58) and the training step time, all configs interleaved
   (:func:`measure`, :func:`.train_cost.measure_train_steps`);
3. writes a markdown section (:func:`format_section`) between the markers
   ``<!-- BEGIN evidence:NAME -->`` / ``<!-- END evidence:NAME -->`` of a file
   (:func:`write_section`; the rest of the file is kept) and a plot (:func:`plot`).

The functions take the parsed options of :func:`repl_mm.cli.evidence.parse_args` (``args``).
"""
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ['seeds_command', 'job_threads', 'schedule', 'summarize_config', 'train_all',
           'measure', 'format_section', 'write_section', 'plot', 'run_evidence']


def _name(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


# --------------------------------------------------------------------------------------------
# accuracy over seeds (tools/multi_seed.py)
# --------------------------------------------------------------------------------------------
def seeds_command(config: str, args, seeds: Optional[Sequence[int]] = None) -> List[str]:
    """The ``tools/multi_seed.py`` command that trains ``config`` over ``seeds`` (default:
    ``args.seeds``) into ``WORK_DIR/<config name>``."""
    from ..utils.config import tool_path
    cmd = [sys.executable, tool_path('multi_seed.py'), config, '--seeds',
           *map(str, args.seeds if seeds is None else seeds),
           '--work-dir', osp.join(args.work_dir, _name(config))]
    options = list(args.cfg_options)
    if args.epochs is not None:
        options.append(f'train_cfg.max_epochs={args.epochs}')
    if options:
        cmd += ['--cfg-options', *options]
    return cmd


def job_threads(jobs: int, cpu_count: Optional[int] = None) -> int:
    """Threads of each of ``jobs`` concurrent trainings: the cores shared out, at least 1."""
    return max(1, (cpu_count or os.cpu_count() or 1) // jobs)


def schedule(configs: Sequence[str], seeds: Sequence[int],
             estimate: Dict[str, float]) -> List[Tuple[str, int]]:
    """The (config, seed) trainings in the order concurrent jobs take them: costliest config
    (by ``estimate``) first, ties in the given order, each config's seeds together -- so no
    long training starts last while the other workers sit idle."""
    order = sorted(configs, key=lambda c: (-estimate.get(c, 0.0), list(configs).index(c)))
    return [(c, s) for c in order for s in seeds]


_PRINT = threading.Lock()


def _say(text: str) -> None:
    """One whole line on stdout (the concurrent jobs' lines do not run into each other)."""
    with _PRINT:
        print(text, flush=True)


def _run(cmd: List[str], log: Optional[str], threads: Optional[int]) -> int:
    from ..utils.config import package_env
    env = package_env(os.environ)   # the thin tools/multi_seed.py imports this repl_mm
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    _say(f'[evidence] {shlex.join(cmd)}' + (f'  (output: {log})' if log else ''))
    if not log:
        return subprocess.call(cmd, env=env)
    os.makedirs(osp.dirname(log), exist_ok=True)
    with open(log, 'a') as f:
        return subprocess.call(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)


def summarize_config(config: str, args, wall_s: float) -> Dict[str, Any]:
    """Reads the finished seeds of ``config`` and writes its ``multi_seed.json`` / ``.md``
    (what ``tools/multi_seed.py`` writes after its last seed); returns that record plus the
    summed training time of its seeds (``wall_s``)."""
    from .multi_seed import read_finished, write_summary
    work = osp.join(args.work_dir, _name(config))
    command = shlex.join(['python', 'tools/multi_seed.py'] + seeds_command(config, args)[2:])
    record = write_summary(config, work, args.seeds, read_finished(work, args.seeds),
                           command=command)
    record = json.loads(json.dumps(record))          # seeds as keys: str, as in the file
    record['wall_s'] = wall_s
    s = record['summary'].get(args.metric)
    print(f'[evidence] {_name(config)}: seeds trained in {wall_s:.0f} s' +
          (f", {args.metric} {s['mean']:.2f} ± {s['std']:.2f} (n={s['n']})" if s else ''),
          flush=True)
    return record


def train_all(args, estimate: Dict[str, float]) -> Dict[str, Dict[str, Any]]:
    """Trains every config over the seeds, ``args.jobs`` trainings (one config, one seed,
    through ``tools/multi_seed.py``) at a time, and returns each config's
    ``multi_seed.json`` record. A failed training does not stop the others; at the end the
    failures are raised together, naming each config, seed and its output.

    With ``--jobs 1`` each config runs as one ``tools/multi_seed.py`` over all seeds, its
    output on this terminal."""
    if args.jobs == 1:
        results = {}
        for c in args.configs:
            start = time.perf_counter()
            rc = _run(seeds_command(c, args), None, args.threads)
            if rc != 0:
                raise RuntimeError(f'[evidence] multi_seed.py failed for {c} (exit code {rc}); '
                                 'rerun the same command to resume')
            results[c] = summarize_config(c, args, time.perf_counter() - start)
        return results
    threads = args.threads or job_threads(args.jobs)
    tasks = schedule(args.configs, args.seeds, estimate)
    print(f'[evidence] {len(tasks)} trainings ({len(args.configs)} configs x '
          f'{len(args.seeds)} seeds), {args.jobs} at a time, {threads} thread(s) each; '
          f'config order: {", ".join(dict.fromkeys(_name(c) for c, _ in tasks))}', flush=True)

    def one(config: str, seed: int) -> float:
        log = osp.join(args.work_dir, _name(config), f'seed_{seed}.log')
        start = time.perf_counter()
        rc = _run(seeds_command(config, args, [seed]), log, threads)
        if rc != 0:
            raise RuntimeError(f'{config} seed {seed} (exit code {rc}; output: {log})')
        return time.perf_counter() - start

    walls: Dict[str, float] = {}
    failures: List[str] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(one, c, s): (c, s) for c, s in tasks}
        for future in as_completed(futures):
            config, seed = futures[future]
            try:
                walls[config] = walls.get(config, 0.0) + future.result()
                _say(f'[evidence] {_name(config)} seed {seed} done')
            except RuntimeError as e:
                failures.append(str(e))
                _say(f'[evidence] failed: {e}')
    if failures:
        raise RuntimeError('[evidence] training failed for ' + '; '.join(failures) +
                         '. Rerun the same command to resume (finished seeds are kept).')
    return {c: summarize_config(c, args, walls[c]) for c in args.configs}


# --------------------------------------------------------------------------------------------
# cost (one process, interleaved)
# --------------------------------------------------------------------------------------------
def measure(configs: Sequence[str], batch_size: int, reps: int, warmup: int
            ) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, Any]]:
    """Params, activation bytes and step time of every config, measured in one run."""
    import torch

    from .timing import machine_info
    from .train_cost import measure_train_steps
    # one torch thread: the process CPU time is the step's own, whatever else runs on the
    # machine (the trainings beside it); several threads: wall time
    clock = 'cpu' if torch.get_num_threads() == 1 else 'wall'
    measured = measure_train_steps({c: (c, None) for c in configs}, batch_size=batch_size,
                                   reps=reps, warmup=warmup, clock=clock)
    rows = {}
    for config, m in measured.items():
        t = m['timing']
        rows[config] = dict(params=m['params'],
                            max_epochs=m['cfg'].train_cfg.get('max_epochs', 1),
                            activation_bytes=m['activation_bytes'], input_size=list(m['size']),
                            backbone=m['cfg'].model.backbone.type, batch_size=batch_size,
                            step_time_s=t.median, step_time_q=[t.q1, t.q3])
    return rows, dict(machine_info('cpu'), reps=reps, warmup=warmup, clock=clock)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def _family(backbone: str) -> str:
    return 'vit' if 'VisionTransformer' in backbone else 'resnet'


def _rel(v: float, ref: float) -> str:
    return '' if ref == v else f' ({(v / ref - 1) * 100:+.1f}%)'


def format_section(args, rows: Dict[str, Dict[str, Any]], accuracy: Dict[str, Dict],
                   machine: Dict[str, Any], command: str) -> str:
    from .multi_seed import format_pm
    refs: Dict[str, str] = {}
    for c in args.configs:
        refs.setdefault(_family(rows[c]['backbone']), c)
    lines = [f'### {args.title}', '']
    if args.note:
        lines += [args.note, '']
    lines += ['Command:', '', '```bash', command, '```', '',
              f"Machine: {machine['cpu']}, {machine['cpu_count']} cores, "
              f"{machine['torch_threads']} torch threads, torch {machine['torch']}, Python "
              f"{machine['python']}, CPU only. Cost: batch {args.batch_size} of random images "
              f"at each config's training crop; step time = forward + loss + backward + the "
              f"config's optimizer step, median of {args.reps} interleaved repetitions"
              + (' timed in process CPU time (one thread)' if machine.get('clock') == 'cpu'
                 else '') + '; '
              'activation = bytes autograd saves for backward in that step. Percentages: vs '
              'the first config of the same backbone family.', '']
    if accuracy:
        jobs = machine.get('jobs', 1)
        lines += [f"Training: {jobs} training(s) (one config, one seed) at a time"
                  + (f", {machine['job_threads']} thread(s) each" if machine.get('job_threads')
                     else '') + '; whole run (cost measurement + training of every config and '
                  f"seed): {machine.get('wall_s', float('nan')) / 60:.1f} min.", '']
    acc_col = f'{args.metric} (mean ± std, n)' if accuracy else None
    head = ['config', 'backbone'] + ([acc_col] if acc_col else []) + \
        ['trainable params', 'activation (MB)', 'step time (ms)']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + ' --- |' * len(head)]
    for c in args.configs:
        r, ref = rows[c], rows[refs[_family(rows[c]['backbone'])]]
        cells = [f'`{_name(c)}`', r['backbone']]
        if accuracy:
            s = accuracy[c]['summary'].get(args.metric)
            cells.append('-' if s is None else f"{format_pm(s['mean'], s['std'])} "
                                               f"(n={s['n']})")
        cells += [f"{r['params']:,}{_rel(r['params'], ref['params'])}",
                  f"{r['activation_bytes'] / 2**20:.2f}"
                  f"{_rel(r['activation_bytes'], ref['activation_bytes'])}",
                  f"{r['step_time_s'] * 1e3:.1f}{_rel(r['step_time_s'], ref['step_time_s'])}"]
        lines.append('| ' + ' | '.join(cells) + ' |')
    if accuracy:
        lines += ['', 'Per seed (' + args.metric + '):', '']
        for c in args.configs:
            per = accuracy[c]['per_seed']
            vals = ', '.join(f'seed {s}: {m.get(args.metric, float("nan")):.2f}'
                             for s, m in sorted(per.items(), key=lambda kv: int(kv[0])))
            took = accuracy[c].get('wall_s')
            lines.append(f'- `{_name(c)}`: {vals}' +
                         (f' (training time of all seeds: {took:.0f} s)' if took else ''))
    if args.plot:
        lines += ['', f'![evidence]({osp.relpath(args.plot, osp.dirname(args.out) or ".")})']
    return '\n'.join(lines) + '\n'


def write_section(path: str, section: str, text: str) -> None:
    """Replaces the ``section`` between its markers in ``path`` (appends it if absent);
    the rest of the file is kept (:func:`repl_mm.utils.marked_block.write_marked_block`)."""
    from ..utils.marked_block import write_marked_block
    write_marked_block(path, f'<!-- BEGIN evidence:{section} -->',
                       f'<!-- END evidence:{section} -->', text, new_file='# Evidence\n')


def plot(path: str, args, rows, accuracy) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = [_name(c) for c in args.configs]
    colors = ['tab:blue' if _family(rows[c]['backbone']) == 'resnet' else 'tab:orange'
              for c in args.configs]
    panels = ([('accuracy', args.metric + ' (%)')] if accuracy else []) + \
        [('activation', 'activation per step (MB)'), ('time', 'step time (ms)')]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5))
    for ax, (kind, label) in zip(axes, panels):
        if kind == 'accuracy':
            s = [accuracy[c]['summary'][args.metric] for c in args.configs]
            ax.bar(names, [v['mean'] for v in s], color=colors,
                   yerr=[0 if v['std'] != v['std'] else v['std'] for v in s], capsize=4)
            lo = min(v['mean'] - (v['std'] if v['std'] == v['std'] else 0) for v in s)
            ax.set_ylim(max(0, lo - 5), 100)
        elif kind == 'activation':
            ax.bar(names, [rows[c]['activation_bytes'] / 2**20 for c in args.configs],
                   color=colors)
        else:
            ax.bar(names, [rows[c]['step_time_s'] * 1e3 for c in args.configs], color=colors)
        ax.set_ylabel(label)
        ax.tick_params(axis='x', labelrotation=60, labelsize=7)
    fig.suptitle(args.title)
    fig.tight_layout()
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_evidence(args, command: str) -> Dict[str, Any]:
    """The whole run: the data check of every config (issue 29), the cost measurement, the
    trainings (unless ``args.measure_only``), the section, the plot and
    ``WORK_DIR/evidence_<section>.json``; returns what that JSON holds.

    Raises:
        RuntimeError: a training failed (names each config, seed and its output).
        SystemExit: a config's data is missing (the data check printed why).
    """
    start = time.perf_counter()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if not args.measure_only:  # issue 29: every config's data, before measuring and training
        from ..datasets.check import precheck_configs
        precheck_configs(args.configs, args.cfg_options)
    # cost first, on an idle machine; its step times also order the concurrent trainings
    rows, machine = measure(args.configs, args.batch_size, args.reps, args.warmup)
    accuracy = {}
    if not args.measure_only:
        estimate = {c: rows[c]['step_time_s'] * (args.epochs or rows[c]['max_epochs'])
                    for c in args.configs}
        accuracy = train_all(args, estimate)
    machine = dict(machine, jobs=args.jobs, wall_s=time.perf_counter() - start)
    if not args.measure_only:
        machine['job_threads'] = args.threads or (job_threads(args.jobs) if args.jobs > 1
                                                  else None)
    text = format_section(args, rows, accuracy, machine, command)
    write_section(args.out, args.section, text)
    if args.plot:
        plot(args.plot, args, rows, accuracy)
    result = dict(command=command, machine=machine, cost=rows, accuracy=accuracy)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, f'evidence_{args.section}.json'), 'w') as f:
        json.dump(result, f, indent=2, default=str)
    print(text)
    return result
