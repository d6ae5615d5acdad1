"""Multi-seed runs: read each seed's final metrics from its mmengine logs, and report
mean ± standard deviation in the paper's format (``93.43±0.19``, Tables I-VII, X, XVI).

``tools/multi_seed.py`` trains one run per seed through ``tools/train.py`` into
``WORK_DIR/seed_<S>/`` and calls these helpers. Where the metrics come from:

* validation (default): mmengine's ``LoggerHook`` appends one JSON line per logging event to
  ``<work_dir>/<timestamp>/vis_data/scalars.json``; a validation line has the evaluator's
  metrics (``accuracy/top1`` ...) plus ``data_time``, ``time`` and ``step`` (the epoch, or
  the iteration for iteration-based loops), and no ``lr`` / ``loss`` (those mark training
  lines). A resumed run starts a new timestamp folder; the final metrics are those of the
  last validation line of the newest folder that has one.
* test: ``tools/test.py`` writes ``<work_dir>/<timestamp>/<timestamp>.json`` with one line
  of test metrics.

The standard deviation is the sample standard deviation (``n - 1`` in the denominator), the
usual reading of "mean ± std over runs"; the paper does not say which one it uses.
"""
import glob
import json
import math
import os
import os.path as osp
import statistics
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ['NON_METRIC_KEYS', 'read_val_metrics', 'read_test_metrics', 'write_json_atomic',
           'summarize', 'format_pm', 'format_markdown', 'FINAL_METRICS', 'read_finished',
           'write_summary']

#: keys of an mmengine log line that are not evaluation metrics
NON_METRIC_KEYS = frozenset({'data_time', 'time', 'step', 'epoch', 'iter', 'memory', 'lr',
                             'base_lr', 'eta', 'mode'})
#: name of the per-seed file that marks a finished seed
FINAL_METRICS = 'final_metrics.json'


def _is_train_line(line: Mapping) -> bool:
    return 'lr' in line or any(k == 'loss' or k.startswith('loss_') for k in line)


def _metrics_of(line: Mapping) -> Dict[str, float]:
    return {k: float(v) for k, v in line.items()
            if k not in NON_METRIC_KEYS and isinstance(v, (int, float))
            and not isinstance(v, bool)}


def _timestamp_dirs(work_dir: str) -> List[str]:
    """The run folders mmengine creates under ``work_dir`` (``YYYYmmdd_HHMMSS``), oldest
    first."""
    dirs = [d for d in glob.glob(osp.join(work_dir, '*')) if osp.isdir(d)
            and osp.basename(d).replace('_', '').isdigit()]
    return sorted(dirs, key=osp.basename)


def read_val_metrics(work_dir: str) -> Tuple[Dict[str, float], int]:
    """The last validation metrics written by training into ``work_dir``.

    Args:
        work_dir (str): the ``--work-dir`` of ``tools/train.py``.

    Returns:
        ``(metrics, step)``: the metrics of the last validation line (e.g.
        ``{'accuracy/top1': 93.4}``) and its ``step`` (epoch or iteration).

    Raises:
        FileNotFoundError: no validation line under ``work_dir`` (no ``scalars.json``, or
            training ran with ``--no-validate`` / without a ``val_cfg``).
    """
    for run in reversed(_timestamp_dirs(work_dir)):
        path = osp.join(run, 'vis_data', 'scalars.json')
        if not osp.isfile(path):
            continue
        last = None
        with open(path) as f:
            for text in f:
                text = text.strip()
                if not text:
                    continue
                line = json.loads(text)
                if not _is_train_line(line) and _metrics_of(line):
                    last = line
        if last is not None:
            return _metrics_of(last), int(last.get('step', -1))
    raise FileNotFoundError(
        f'no validation metrics under {work_dir}/<timestamp>/vis_data/scalars.json: did the '
        'run validate (no --no-validate, a val_cfg / val_evaluator in the config)? '
        'Use --test to evaluate the final checkpoint with tools/test.py instead')


def read_test_metrics(work_dir: str) -> Dict[str, float]:
    """The metrics ``tools/test.py`` wrote into ``work_dir`` (its newest run).

    Raises:
        FileNotFoundError: no ``<timestamp>/<timestamp>.json`` under ``work_dir``.
    """
    for run in reversed(_timestamp_dirs(work_dir)):
        path = osp.join(run, osp.basename(run) + '.json')
        if osp.isfile(path):
            with open(path) as f:
                lines = [json.loads(t) for t in f if t.strip()]
            for line in reversed(lines):
                metrics = _metrics_of(line)
                if metrics:
                    return metrics
    raise FileNotFoundError(f'no test metrics under {work_dir}/<timestamp>/<timestamp>.json')


def write_json_atomic(obj, path: str) -> None:
    """Writes ``obj`` as JSON to ``path`` through a temporary file and ``os.replace``, so a
    crash never leaves a half-written file (a half-written ``final_metrics.json`` would mark
    an unfinished seed as done)."""
    from ..utils.atomic_write import atomic_write_text
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def summarize(per_seed: Mapping[int, Mapping[str, float]],
              keys: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, float]]:
    """Mean and sample standard deviation of each metric over the seeds.

    Args:
        per_seed: seed -> {metric: value}.
        keys: the metrics to summarize (default: those every seed has, sorted).

    Returns:
        metric -> ``{'mean', 'std', 'n', 'min', 'max'}``; ``std`` is NaN for one seed.

    Raises:
        ValueError: no seeds, or a requested metric some seed lacks.
    """
    if not per_seed:
        raise ValueError('summarize: no seeds with metrics')
    common = set.intersection(*(set(m) for m in per_seed.values()))
    if keys is None:
        keys = sorted(common)
    missing = [k for k in keys if k not in common]
    if missing:
        have = {s: sorted(m) for s, m in per_seed.items()}
        raise ValueError(f'--metrics {missing} not reported by every seed; seeds report {have}')
    out = {}
    for k in keys:
        values = [float(per_seed[s][k]) for s in sorted(per_seed)]
        out[k] = dict(mean=statistics.fmean(values),
                      std=statistics.stdev(values) if len(values) > 1 else math.nan,
                      n=len(values), min=min(values), max=max(values))
    return out


def format_pm(mean: float, std: float, digits: int = 2) -> str:
    """``93.43±0.19`` (the paper's format); ``93.43±n/a`` for a single seed."""
    s = 'n/a' if math.isnan(std) else f'{std:.{digits}f}'
    return f'{mean:.{digits}f}±{s}'


def format_markdown(config: str, per_seed: Mapping[int, Mapping[str, float]],
                    summary: Mapping[str, Mapping[str, float]], digits: int = 2,
                    command: Optional[str] = None) -> str:
    """A markdown report: one row per seed, then the mean ± std row."""
    keys = list(summary)
    lines = [f'# Multi-seed results: `{config}`', '']
    if command:
        lines += ['Command:', '', '```bash', command, '```', '']
    lines += ['| seed | ' + ' | '.join(keys) + ' |', '| --- |' + ' --- |' * len(keys)]
    for s in sorted(per_seed):
        lines.append(f'| {s} | ' + ' | '.join(f'{per_seed[s][k]:.{digits}f}' for k in keys)
                     + ' |')
    lines.append(f'| mean ± std (n={len(per_seed)}) | ' + ' | '.join(
        format_pm(summary[k]['mean'], summary[k]['std'], digits) for k in keys) + ' |')
    lines += ['', 'std: sample standard deviation over the seeds (n - 1).', '']
    return '\n'.join(lines)


def read_finished(work_dir: str, seeds: Sequence[int]) -> Dict[int, Dict[str, float]]:
    """The final metrics of each seed from ``work_dir/seed_<S>/final_metrics.json``.

    Raises:
        FileNotFoundError: a seed has not finished (names the seed and the file).
    """
    per_seed = {}
    for s in seeds:
        path = os.path.join(work_dir, f'seed_{s}', FINAL_METRICS)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'seed {s} has not finished: {path} does not exist')
        with open(path) as f:
            per_seed[s] = json.load(f)['metrics']
    return per_seed


def write_summary(config: str, work_dir: str, seeds: Sequence[int],
                  per_seed: Mapping[int, Mapping[str, float]],
                  metrics: Optional[Sequence[str]] = None, digits: int = 2,
                  command: Optional[str] = None) -> Dict:
    """Summarizes the seeds (:func:`summarize`) and writes ``work_dir/multi_seed.json``
    (atomically) and ``work_dir/multi_seed.md``; returns the JSON record
    ``{config, seeds, per_seed, summary, command, std}``."""
    summary = summarize(per_seed, metrics)
    result = dict(config=config, seeds=list(seeds), per_seed=dict(per_seed), summary=summary,
                  command=command, std='sample (n - 1)')
    write_json_atomic(result, os.path.join(work_dir, 'multi_seed.json'))
    md = os.path.join(work_dir, 'multi_seed.md')
    from ..utils.atomic_write import atomic_write_text
    atomic_write_text(md, format_markdown(config, per_seed, summary, digits, command))
    return result
