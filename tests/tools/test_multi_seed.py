"""tools/multi_seed.py: a tiny classifier trained over 2 seeds through tools/train.py prints and
writes mean ± std of the final validation metrics (equal to the per-seed numbers' mean and
sample std), finished seeds are not rerun, and the log reading / summary helpers."""
import json
import math
import os
import os.path as osp
import re
import statistics

import numpy as np
import pytest

from repl_mm.analysis.multi_seed import FINAL_METRICS, format_pm, read_val_metrics, summarize

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TINY_CONFIG = """
_base_ = {runtime!r}
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', depth=20, stem_channels=4, base_channels=4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=16,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )))
data_preprocessor = dict(num_classes=2, mean=[128., 128., 128.], std=[64., 64., 64.],
                         to_rgb=False)
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root={root!r}, data_prefix='train',
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root={root!r}, data_prefix='val',
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(max_keep_ckpts=1, save_best=None))
"""


def _load_tool():
    from repl_mm.cli import multi_seed
    return multi_seed


def _tiny_images(root: str) -> None:
    """Two classes (dark / bright 8x8 images), 6 train and 5 val images each."""
    import cv2
    rng = np.random.default_rng(0)
    for split, n in (('train', 6), ('val', 5)):
        for label in (0, 1):
            os.makedirs(osp.join(root, split, str(label)))
            for i in range(n):
                img = rng.integers(0, 120, (8, 8, 3)) + 120 * label
                cv2.imwrite(osp.join(root, split, str(label), f'{i}.png'),
                            img.astype(np.uint8))


def test_two_seeds_print_mean_and_std(tmp_path, capfd, monkeypatch):
    data = str(tmp_path / 'data')
    _tiny_images(data)
    cfg = tmp_path / 'tiny_cls.py'
    cfg.write_text(TINY_CONFIG.format(
        runtime=osp.join(ROOT, 'configs', '_base_', 'cls_runtime.py'), root=data))
    work = tmp_path / 'seeds'
    tool = _load_tool()
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    result = tool.main([str(cfg), '--seeds', '0', '1', '--work-dir', str(work)])
    out = capfd.readouterr().out

    per_seed = {}
    for s in (0, 1):
        with open(work / f'seed_{s}' / FINAL_METRICS) as f:
            record = json.load(f)
        assert record['seed'] == s and record['source'] == 'val' and record['step'] == 2
        per_seed[s] = record['metrics']['accuracy/top1']
        # the seed reached the run: mmengine logs the seed it used
        logs = [p for p in (work / f'seed_{s}').glob('*/*.log')]
        assert logs and f'seed: {s}' in logs[0].read_text()
        assert 0 <= per_seed[s] <= 100
        assert abs(per_seed[s] * 10 / 100 - round(per_seed[s] * 10 / 100)) < 1e-6  # /10 val
    mean, std = statistics.fmean(per_seed.values()), statistics.stdev(per_seed.values())
    printed = re.search(r'accuracy/top1: ([\d.]+)±([\d.]+) \(n=2\)', out)
    assert printed, out
    assert float(printed.group(1)) == pytest.approx(mean, abs=0.005)
    assert float(printed.group(2)) == pytest.approx(std, abs=0.005)
    s = result['summary']['accuracy/top1']
    assert s['mean'] == pytest.approx(mean) and s['std'] == pytest.approx(std)
    md = (work / 'multi_seed.md').read_text()
    assert format_pm(mean, std) in md
    assert json.loads((work / 'multi_seed.json').read_text())['summary'] == result['summary']

    # resumable: finished seeds are not rerun
    def no_run(*a, **k):
        raise AssertionError('a finished seed was rerun')
    monkeypatch.setattr(tool.subprocess, 'call', no_run)
    again = tool.main([str(cfg), '--seeds', '0', '1', '--work-dir', str(work)])
    assert again['summary'] == result['summary']
    assert capfd.readouterr().out.count('not rerun') == 2


def test_train_args_and_overrides(tmp_path):
    tool = _load_tool()
    args = tool.parse_args(['c.py', '--seeds', '3', '--nproc', '2', '--deterministic',
                            '--amp', '--cfg-options', 'train_cfg.max_epochs=4'])
    cmd = tool.train_command(args, 3, str(tmp_path))
    assert '--amp' in cmd and cmd[cmd.index('--launcher') + 1] == 'pytorch'
    assert 'torch.distributed.run' in cmd and '--nproc_per_node=2' in cmd
    opts = cmd[cmd.index('--cfg-options') + 1:]
    assert set(opts) == {'train_cfg.max_epochs=4', 'randomness.seed=3',
                         'randomness.deterministic=True'}
    (tmp_path / 'last_checkpoint').write_text('x')
    assert '--resume' in tool.train_command(args, 3, str(tmp_path))
    for bad in (['--seeds', '1', '1'], ['--seeds', '1', '--work-dir', 'x', '--resume']):
        with pytest.raises(SystemExit):
            tool.parse_args(['c.py'] + bad)


def test_read_val_metrics_takes_the_last_validation_of_the_newest_run(tmp_path):
    def write(run, lines):
        os.makedirs(tmp_path / run / 'vis_data')
        with open(tmp_path / run / 'vis_data' / 'scalars.json', 'w') as f:
            f.writelines(json.dumps(line) + '\n' for line in lines)
    train = dict(lr=0.1, data_time=0.1, loss=1.0, time=0.2, epoch=1, iter=1, memory=0, step=1)
    write('20260101_000000', [train, {'accuracy/top1': 50.0, 'data_time': 0.1, 'step': 1}])
    write('20260101_010000', [train, {'accuracy/top1': 60.0, 'time': 0.1, 'step': 2},
                              dict(train, step=3),
                              {'accuracy/top1': 70.0, 'accuracy/top5': 90.0, 'step': 3}])
    assert read_val_metrics(str(tmp_path)) == ({'accuracy/top1': 70.0,
                                                'accuracy/top5': 90.0}, 3)
    with pytest.raises(FileNotFoundError, match='--test'):
        read_val_metrics(str(tmp_path / 'none'))


def test_summarize_and_format():
    s = summarize({0: {'a': 1.0, 'b': 2.0}, 1: {'a': 3.0}, 2: {'a': 5.0}})
    assert list(s) == ['a']          # only metrics every seed has
    assert s['a']['mean'] == 3.0 and s['a']['std'] == 2.0 and s['a']['n'] == 3
    assert format_pm(93.4321, 0.1899) == '93.43±0.19'
    assert math.isnan(summarize({0: {'a': 1.0}})['a']['std'])
    with pytest.raises(ValueError, match='b'):
        summarize({0: {'a': 1.0, 'b': 2.0}, 1: {'a': 3.0}}, keys=['b'])
