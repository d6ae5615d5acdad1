"""The support matrix's end-to-end check (issue 21, docs/compatibility.md): the CIFAR
ResNet-32-RepL classifier (configs/cifar-resnet32_repl_cifar10.py on a tiny CIFAR-10) trains
through tools/train.py, crashes in the middle of epoch 2, resumes with ``--resume`` to the
weights of the uninterrupted run (``torch.equal``), keeps one checkpoint under rotation with no
temporary file left, and converts to deploy form with outputs equal to 1e-5 (eq. 32-33).
Run by every cell of ``make test-matrix`` (tests/matrix_subset.txt)."""
import os
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

from repl_mm.testing.tools import TrainCrash as _Crash
from repl_mm.testing.tools import load_tool, train_in_process

pytest.importorskip('mmpretrain')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'e2e'))
from test_classification_e2e import _tiny_loaders, make_tiny_cifar10  # noqa: E402


@pytest.fixture
def cifar_config(tmp_path, monkeypatch):
    from mmpretrain.datasets import CIFAR10
    # the tiny files cannot have the official md5 sums that CIFAR10 checks
    for attr in ('train_list', 'test_list'):
        monkeypatch.setattr(CIFAR10, attr, [[n, None] for n, _ in getattr(CIFAR10, attr)])
    monkeypatch.setattr(CIFAR10, 'meta', dict(CIFAR10.meta, md5=None))
    data_root = str(tmp_path / 'cifar10')
    make_tiny_cifar10(data_root)  # 20 training images, 4 test images
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'cifar-resnet32_repl_cifar10.py'))
    _tiny_loaders(cfg, data_root, batch=10)  # 2 iterations an epoch
    warmup, cosine = cfg.param_scheduler
    warmup.end = cosine.begin = 1
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 10
    cfg.randomness = dict(seed=0)
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=1, save_best=None,
                                        save_optimizer=True)
    path = str(tmp_path / 'cifar_tiny.py')
    cfg.dump(path)
    return path


def _train(config, work, *flags, crash_after=0, monkeypatch=None):
    return train_in_process(load_tool('tools/train.py').main, config, work, *flags,
                            crash_after=crash_after)


def _weights(path):
    return torch.load(str(path), map_location='cpu', weights_only=False)['state_dict']


def test_cifar_resnet_repl_trains_crashes_resumes_rotates_and_deploys(tmp_path, cifar_config,
                                                                       monkeypatch):
    from repl_mm.deploy import reparameterize_checkpoint

    runner = _train(cifar_config, tmp_path / 'full')
    assert type(runner.model.backbone).__name__ == 'CifarResNetRepL'
    full = _weights(tmp_path / 'full' / 'epoch_2.pth')

    with pytest.raises(_Crash):
        _train(cifar_config, tmp_path / 'cut', crash_after=3, monkeypatch=monkeypatch)
    cut = tmp_path / 'cut'
    assert sorted(p for p in os.listdir(cut) if p.endswith('.pth')) == ['epoch_1.pth']
    runner = _train(cifar_config, cut, '--resume')
    assert runner.iter == 4
    # rotation: max_keep_ckpts=1 keeps the newest only; nothing half-written is left
    assert sorted(p for p in os.listdir(cut) if p.endswith('.pth')) == ['epoch_2.pth']
    assert not [p for p in os.listdir(cut) if p.startswith('.') or p.endswith('.tmp')]
    with open(cut / 'last_checkpoint') as f:
        assert f.read().strip() == str(cut / 'epoch_2.pth')
    resumed = _weights(cut / 'epoch_2.pth')
    assert full.keys() == resumed.keys()
    assert any(k.endswith('synthesis.alpha') for k in full)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k

    result = reparameterize_checkpoint(cifar_config, str(cut / 'epoch_2.pth'),
                                       str(tmp_path / 'deploy.pth'), tolerance=1e-5)
    assert 0 <= result.max_rel_diff < 1e-5
    deploy = torch.load(str(tmp_path / 'deploy.pth'), map_location='cpu', weights_only=True)
    assert deploy['meta']['repl_deploy'] is True
    assert not any('synthesis' in k for k in deploy['state_dict'])
