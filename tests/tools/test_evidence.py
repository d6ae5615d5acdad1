"""tools/analysis_tools/evidence.py (repl_mm.cli.evidence over repl_mm.analysis.evidence):
concurrent trainings (``--jobs``), their order, the threads each gets, failures named with
their output, resume, and the multi-seed summary helpers it shares with tools/multi_seed.py."""
import json
import math
import os.path as osp

import pytest

from repl_mm.analysis import evidence
from repl_mm.analysis.multi_seed import FINAL_METRICS, read_finished, write_summary
from repl_mm.cli import evidence as cli

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EVIDENCE = osp.join(ROOT, 'configs', 'evidence')


def test_schedule_costliest_config_first_seeds_together():
    configs = ['a.py', 'b.py', 'c.py']
    estimate = {'a.py': 1.0, 'b.py': 5.0, 'c.py': 1.0}
    assert evidence.schedule(configs, [0, 1], estimate) == [
        ('b.py', 0), ('b.py', 1), ('a.py', 0), ('a.py', 1), ('c.py', 0), ('c.py', 1)]
    # no estimate: the given order
    assert [c for c, _ in evidence.schedule(configs, [3], {})] == configs


@pytest.mark.parametrize('jobs,cores,threads', [(2, 2, 1), (1, 2, 2), (4, 2, 1), (2, 16, 8),
                                                (3, 16, 5)])
def test_job_threads_share_the_cores(jobs, cores, threads):
    assert evidence.job_threads(jobs, cores) == threads


@pytest.mark.parametrize('argv,field', [(['--jobs', '0'], '--jobs'),
                                        (['--epochs', '0'], '--epochs'),
                                        (['--threads', '0'], '--threads')])
def test_bad_arguments_name_the_field(argv, field, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(argv)
    assert field in capsys.readouterr().err


def test_summary_helpers_numbers_and_unfinished_seed(tmp_path):
    for seed, acc in ((0, 90.0), (1, 94.0)):
        (tmp_path / f'seed_{seed}').mkdir()
        (tmp_path / f'seed_{seed}' / FINAL_METRICS).write_text(
            json.dumps(dict(seed=seed, metrics={'accuracy/top1': acc})))
    per_seed = read_finished(str(tmp_path), [0, 1])
    record = write_summary('x.py', str(tmp_path), [0, 1], per_seed, command='cmd')
    s = record['summary']['accuracy/top1']
    assert (s['mean'], s['n']) == (92.0, 2) and math.isclose(s['std'], math.sqrt(8.0))
    on_disk = json.loads((tmp_path / 'multi_seed.json').read_text())
    assert on_disk['summary']['accuracy/top1']['mean'] == 92.0
    assert '92.00±2.83' in (tmp_path / 'multi_seed.md').read_text()
    with pytest.raises(FileNotFoundError, match='seed 2 has not finished'):
        read_finished(str(tmp_path), [0, 2])


def test_two_jobs_a_failure_is_named_and_the_rest_finishes_then_resumes(tmp_path, capsys):
    """Two trainings at a time: a config whose training cannot start (its training split
    does not exist; the model builds, so the cost rows are measured) fails with its seed and
    log named, the good config's seed still finishes; the rerun keeps that seed (not retrained)
    and writes the section with its accuracy."""
    good = osp.join(EVIDENCE, 'cifar-resnet32_repl_digits.py')
    bad = tmp_path / 'cifar-resnet32_bad-split_digits.py'
    bad.write_text(f'_base_ = {osp.join(EVIDENCE, "cifar-resnet32_digits.py")!r}\n'
                   "train_dataloader = dict(dataset=dict(split='validation'))\n")
    work, out = tmp_path / 'w', tmp_path / 'e.md'
    common = ['--seeds', '0', '--epochs', '1', '--jobs', '2', '--batch-size', '2', '--reps',
              '1', '--warmup', '0', '--work-dir', str(work), '--out', str(out), '--plot', '',
              '--cfg-options', 'train_dataloader.dataset.indices=32',
              'val_dataloader.dataset.indices=32']
    with pytest.raises(SystemExit) as e:
        cli.main(['--configs', good, str(bad), *common])
    msg = str(e.value)
    assert 'cifar-resnet32_bad-split_digits.py seed 0' in msg and 'seed_0.log' in msg
    assert 'Rerun the same command' in msg
    bad_log = (work / 'cifar-resnet32_bad-split_digits' / 'seed_0.log').read_text()
    assert "split must be one of ('train', 'test'), got 'validation'" in bad_log
    assert (work / 'cifar-resnet32_repl_digits' / 'seed_0' / FINAL_METRICS).is_file()
    assert '2 at a time, 1 thread(s) each' in capsys.readouterr().out

    res = cli.main(['--configs', good, *common])
    log = (work / 'cifar-resnet32_repl_digits' / 'seed_0.log').read_text()
    assert 'finished before' in log                   # the rerun did not train it again
    acc = res['accuracy'][good]
    first = json.loads((work / 'cifar-resnet32_repl_digits' / 'seed_0' / FINAL_METRICS)
                       .read_text())['metrics']['accuracy/top1']
    assert acc['summary']['accuracy/top1']['mean'] == first
    text = out.read_text()
    assert '2 training(s) (one config, one seed) at a time, 1 thread(s) each' in text
    assert f'{first:.2f}±n/a (n=1)' in text
