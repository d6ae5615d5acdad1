"""tools/train.py, tools/test.py and tools/dist_train.sh end to end on a tiny generated COCO-format
set: training + COCO bbox evaluation, 2 CPU processes, resume equal to an uninterrupted run,
and checkpoints carrying pickled code refused by train (--resume, load_from) and test."""
import glob
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
import torch

from repl_mm.engine import UnsafeCheckpointError, safe_torch_load

pytestmark = pytest.mark.usefixtures('one_thread')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'tests', 'tools', 'tiny_retinanet_repl.py')


class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _train(train_tool, work_dir, *flags, options=(), name=None):
    argv = [TINY, '--work-dir', str(work_dir), *flags, '--cfg-options',
            f'experiment_name={name or osp.basename(str(work_dir))}', *options]
    return train_tool.main(argv)


def _weights(path):
    return safe_torch_load(str(path), 'cpu')['state_dict']


def test_train_and_coco_eval(shapes_root, tmp_path, train_tool, test_tool):
    # score_thr 0: a model this small and short-trained may score every box below 0.05
    runner = _train(train_tool, tmp_path / 'run', options=['model.test_cfg.score_thr=0.0'])
    assert type(runner.model.backbone).__name__ == 'ResNetRepL'
    assert runner.iter == 2 * 16 // 2  # 2 epochs of 16 images, batch 2
    val = runner.message_hub.get_scalar('val/coco/bbox_mAP').current()
    assert isinstance(val, float) and 0.0 <= val <= 1.0
    ckpt = tmp_path / 'run' / 'epoch_2.pth'
    assert ckpt.exists()
    metrics = test_tool.main([TINY, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                              '--show-dir', 'vis', '--out', str(tmp_path / 'preds.pkl'),
                              '--cfg-options', 'experiment_name=tiny_test',
                              'model.test_cfg.score_thr=0.0'])
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert isinstance(metrics[key], float) and 0.0 <= metrics[key] <= 1.0
    assert metrics['coco/bbox_mAP'] == val  # same weights, same val set
    painted = glob.glob(str(tmp_path / 'test' / '*' / 'vis' / '*.png'))
    assert len(painted) == 8
    assert (tmp_path / 'preds.pkl').stat().st_size > 0


def test_resume_equals_uninterrupted_run(shapes_root, tmp_path, train_tool):
    _train(train_tool, tmp_path / 'full', '--no-validate')
    _train(train_tool, tmp_path / 'cut', '--no-validate', options=['train_cfg.max_epochs=1'],
           name='cut1')
    assert not (tmp_path / 'cut' / 'epoch_2.pth').exists()
    runner = _train(train_tool, tmp_path / 'cut', '--no-validate', '--resume', name='cut2')
    assert runner.epoch == 2 and runner.iter == 16
    full, resumed = _weights(tmp_path / 'full' / 'epoch_2.pth'), \
        _weights(tmp_path / 'cut' / 'epoch_2.pth')
    first = _weights(tmp_path / 'cut' / 'epoch_1.pth')
    assert full.keys() == resumed.keys()
    assert any(k.endswith('synthesis.alpha') for k in full)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k
    # epoch 2 did change the weights, so the equality above is not vacuous
    assert not torch.equal(first['backbone.layer1.1.synthesis.alpha'],
                           full['backbone.layer1.1.synthesis.alpha'])
    assert not torch.equal(first['bbox_head.retina_cls.weight'],
                           full['bbox_head.retina_cls.weight'])


@pytest.fixture
def payload(tmp_path):
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'epoch_9.pth'
    torch.save({'meta': {'epoch': 9, 'iter': 9, 'x': Payload(str(marker))},
                'state_dict': {}}, path)
    return str(path), marker


@pytest.mark.parametrize('how', ['resume', 'load_from', 'test'])
def test_payload_checkpoint_refused(shapes_root, tmp_path, train_tool, test_tool, payload,
                                    how):
    path, marker = payload
    with pytest.raises(UnsafeCheckpointError) as err:
        if how == 'resume':
            _train(train_tool, tmp_path / 'w', '--resume', path)
        elif how == 'load_from':
            _train(train_tool, tmp_path / 'w', options=[f'load_from={path}'])
        else:
            test_tool.main([TINY, path, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                            'experiment_name=payload_test'])
    assert f'Refused to load checkpoint {path}' in str(err.value)
    assert 'posix.system' in str(err.value)
    assert not marker.exists()


def test_payload_refused_on_command_line(shapes_root, tmp_path, payload):
    path, marker = payload
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), TINY, path,
                           '--work-dir', str(tmp_path / 'w')],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('repl_mm.engine.fileio.safe_load.UnsafeCheckpointError: Refused to '
                           f'load checkpoint {path}')
    assert not marker.exists()


def test_dist_train_and_test_two_cpu_processes(shapes_root, tmp_path, test_tool):
    """tools/dist_train.sh with 2 processes: torchrun + gloo on CPU, DDP, one checkpoint;
    tools/dist_test.sh with 2 processes gives the COCO mAP of a one-process test."""
    work = tmp_path / 'dist'
    env = dict(os.environ, PYTHON=sys.executable, PORT=_free_port(), OMP_NUM_THREADS='1',
               CUDA_VISIBLE_DEVICES='', REPL_MM_ALLOW_CPU_DIST='1')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), TINY, '2', '--work-dir', str(work),
         '--no-validate', '--cfg-options', 'train_cfg.max_epochs=1', 'log_level=DEBUG'],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (work / 'epoch_1.pth').exists()
    logs = {int(re.search(r'rank(\d+)\.log$', f).group(1)): open(f).read()
            for f in glob.glob(str(work / '*' / '*_rank*.log'))}
    assert sorted(logs) == [0, 1]
    losses = {}
    for rank, text in logs.items():
        assert 'Distributed training: True' in text or rank == 1
        # 16 images over 2 ranks at batch 2: 4 iterations per rank
        lines = re.findall(r'Epoch\(train\) \[1\]\[(\d)/(\d)\].*? loss: ([\d.]+)', text)
        assert [(int(i), int(n)) for i, n, _ in lines] == [(i, 4) for i in range(1, 5)]
        losses[rank] = [float(v) for *_, v in lines]
    assert losses[0] != losses[1]  # each rank trained on its own half of the data
    assert "dist_cfg: {'backend': 'gloo'}" in logs[0]
    ckpt = safe_torch_load(str(work / 'epoch_1.pth'))
    assert ckpt['meta']['iter'] == 4 and ckpt['meta']['epoch'] == 1
    assert not any(k.startswith('module.') for k in ckpt['state_dict'])
    scalars = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars[0]) as f:
        assert len([json.loads(line) for line in f]) == 4
    # distributed evaluation: each rank tests half of the val set, CocoMetric gathers them
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_test.sh'), TINY, str(work / 'epoch_1.pth'), '2',
         '--work-dir', str(tmp_path / 'dist_test'), '--out', str(tmp_path / 'dist.pkl'),
         '--cfg-options', 'model.test_cfg.score_thr=0.0'],  # keep a barely trained model's boxes
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(env, PORT=_free_port()))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = re.findall(r'Epoch\(test\).*?coco/bbox_mAP: ([\d.]+)', proc.stdout + proc.stderr)
    assert found, proc.stdout[-3000:] + proc.stderr[-3000:]
    single = test_tool.main([TINY, str(work / 'epoch_1.pth'), '--work-dir',
                             str(tmp_path / 'single_test'), '--out', str(tmp_path / 'one.pkl'),
                             '--cfg-options', 'experiment_name=single_test',
                             'model.test_cfg.score_thr=0.0'])
    import mmengine
    dist_preds = {p['img_id']: p for p in mmengine.load(str(tmp_path / 'dist.pkl'))}
    one_preds = {p['img_id']: p for p in mmengine.load(str(tmp_path / 'one.pkl'))}
    assert sorted(dist_preds) == sorted(one_preds) == list(range(1, 9))  # all 8 val images
    for i, p in one_preds.items():
        a, b = p['pred_instances'], dist_preds[i]['pred_instances']
        assert len(a['scores']) == len(b['scores']) > 0
        assert torch.allclose(a['scores'].sort().values, b['scores'].sort().values, atol=1e-4)
    # the same predictions give the same mAP (up to the ordering of near-tied scores)
    assert float(found[-1]) == pytest.approx(single['coco/bbox_mAP'], abs=0.01), \
        (found, single)
