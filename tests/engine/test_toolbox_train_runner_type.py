"""mmpretrain's own ``tools/train.py`` honours our configs' ``runner_type='ReplRunner'`` (issue
21): a run whose newest checkpoint is truncated resumes from the one before it (mmengine's
``Runner`` would stop on the truncated file), and a config without ``runner_type`` gets
mmengine's ``Runner`` from the same tool."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

mmpretrain = pytest.importorskip('mmpretrain')

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from test_backbone_swap import _tiny_imagenet  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')


def _config(tmp_path, runner_type: bool) -> str:
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'resnet34_repl_imagenet.py'))
    assert cfg.runner_type == 'ReplRunner'
    if not runner_type:
        cfg.pop('runner_type')
    loader = cfg.train_dataloader
    loader.dataset.data_root = str(tmp_path / 'data')
    loader.dataset.split = 'train'
    loader.batch_size, loader.num_workers, loader.persistent_workers = 2, 0, False
    for t in loader.dataset.pipeline:
        if t.type == 'RandomResizedCrop':
            t.scale = 32
    cfg.model.head.num_classes = 2
    cfg.model.head.topk = (1,)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.checkpoint.save_best = None
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    cfg.param_scheduler = []
    cfg.randomness = dict(seed=0)
    path = tmp_path / ('with.py' if runner_type else 'without.py')
    cfg.dump(str(path))
    return str(path)


def _train(config, work, *flags):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, TRAIN, config, '--work-dir', str(work), *flags],
                          capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


@pytest.mark.skipif(not osp.isfile(TRAIN), reason="mmpretrain's tools/train.py not shipped")
def test_mmpretrain_train_tool_builds_repl_runner(tmp_path):
    _tiny_imagenet(str(tmp_path / 'data'))
    work = tmp_path / 'work'
    proc = _train(_config(tmp_path, runner_type=True), work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / 'epoch_2.pth').is_file()
    # the newest checkpoint is cut in half: ReplRunner resumes from epoch_1
    data = (work / 'epoch_2.pth').read_bytes()
    (work / 'epoch_2.pth').write_bytes(data[:len(data) // 2])
    proc = _train(_config(tmp_path, runner_type=True), work, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'Resuming from {work / "epoch_1.pth"}, the newest loadable checkpoint' in \
        proc.stdout + proc.stderr

    # control: the same tool and work dir without runner_type is mmengine's Runner, which
    # trusts last_checkpoint and stops on the truncated file
    (work / 'epoch_2.pth').write_bytes(data[:len(data) // 2])
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    proc = _train(_config(tmp_path, runner_type=False), work, '--resume')
    assert proc.returncode != 0
    assert 'epoch_2.pth is not a PyTorch checkpoint: it is truncated' in proc.stderr
