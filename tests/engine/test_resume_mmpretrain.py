"""Bit-exact resume through tools/train.py with mmpretrain's own random augmentation
(``RandomResizedCrop`` + ``RandomFlip`` of configs/resnet34_repl_imagenet.py), on a tiny
ImageNet-layout set: a run that crashes in the middle of epoch 2 and is resumed with
``--resume`` ends with the weights of the uninterrupted run (``torch.equal`` on every tensor);
without RNGStateHook it does not (the control)."""
import os.path as osp
import sys

import pytest
import torch

from repl_mm.engine import safe_torch_load
from repl_mm.testing.tools import TrainCrash as _Crash
from repl_mm.testing.tools import load_tool, train_in_process

pytest.importorskip('mmpretrain')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'e2e'))
from test_classification_e2e import make_tiny_imagenet, tiny_imagenet_cfg  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _config(tmp_path, data_root, name, rng_hook=True) -> str:
    cfg = tiny_imagenet_cfg('resnet34_repl_imagenet', data_root, str(tmp_path / 'unused'))
    pipeline = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'RandomResizedCrop' in pipeline and 'RandomFlip' in pipeline
    cfg.train_cfg.max_epochs = 2                  # 12 images, batch 6: 2 iterations an epoch
    cfg.train_cfg.val_interval = 10
    cfg.default_hooks.checkpoint.save_optimizer = True
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    assert [h.type for h in cfg.custom_hooks] == ['NonFiniteLossHook', 'RNGStateHook',
                                                  'PreemptionCheckpointHook',
                                                  'ModelFingerprintHook']
    if not rng_hook:
        cfg.custom_hooks[1].enabled = False
        # the control runs mmengine's loop (ResumableEpochBasedTrainLoop is exact without
        # RNGStateHook: tests/engine/cluster)
        cfg.exact_resume = False
    path = tmp_path / f'{name}.py'
    cfg.dump(str(path))
    return str(path)


def _train(train_tool, config, work, *flags, crash_after=0, monkeypatch=None):
    return train_in_process(train_tool.main, config, work, *flags, crash_after=crash_after)


def _weights(path):
    return safe_torch_load(str(path), 'cpu')['state_dict']


def test_crash_mid_epoch_with_random_augmentation(tmp_path, train_tool, monkeypatch):
    data_root = str(tmp_path / 'imagenet')
    make_tiny_imagenet(data_root)
    config = _config(tmp_path, data_root, 'tiny')
    _train(train_tool, config, tmp_path / 'full')
    full = _weights(tmp_path / 'full' / 'epoch_2.pth')

    with pytest.raises(_Crash):
        _train(train_tool, config, tmp_path / 'cut', crash_after=3, monkeypatch=monkeypatch)
    runner = _train(train_tool, config, tmp_path / 'cut', '--resume')
    assert runner.iter == 4
    resumed = _weights(tmp_path / 'cut' / 'epoch_2.pth')
    assert full.keys() == resumed.keys()
    assert any(k.endswith('synthesis.alpha') for k in full)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k

    # control: the same crash and resume without the saved random state differs
    control = _config(tmp_path, data_root, 'tiny_no_rng', rng_hook=False)
    with pytest.raises(_Crash):
        _train(train_tool, control, tmp_path / 'ctl', crash_after=3, monkeypatch=monkeypatch)
    _train(train_tool, control, tmp_path / 'ctl', '--resume')
    ctl = _weights(tmp_path / 'ctl' / 'epoch_2.pth')
    assert any(not torch.equal(full[k], ctl[k]) for k in full)


@pytest.fixture(scope='module')
def train_tool():
    return load_tool('tools/train.py')

