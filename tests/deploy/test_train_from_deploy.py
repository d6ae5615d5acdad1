"""A deploy-form checkpoint given to a *training* run (``load_from``): the training-form model
would switch after the optimizer was built and its folded computing layers would never train,
so tools/train.py refuses it naming the file and the fix; with ``model.backbone.deploy=True``
the folded network fine-tunes (its folded operators are in the optimizer and change); the
training checkpoint trains as before."""
import os.path as osp

import pytest
import torch

from repl_mm.core.forms import CheckpointFormError, iter_computing_layers
from repl_mm.testing.tools import load_tool


def _train_tool():
    return load_tool('tools/train.py')


def test_deploy_checkpoint_into_a_training_run_is_refused(cls_case):
    config, _, deploy, tmp = cls_case
    with pytest.raises(CheckpointFormError) as e:
        _train_tool().main([config, '--work-dir', str(tmp / 'refused'),
                            '--cfg-options', f'load_from={deploy}'])
    msg = str(e.value)
    assert deploy in msg and 'model.backbone.deploy=True' in msg
    assert 'reparameterize_model.py' in msg and '5 in all' in msg     # [1], [1], [1, 3], [1]
    assert not osp.exists(tmp / 'refused' / 'epoch_1.pth')          # nothing trained, saved


def test_deploy_config_fine_tunes_the_folded_network(cls_case):
    config, _, deploy, tmp = cls_case
    loaded = torch.load(deploy, map_location='cpu', weights_only=True)['state_dict']
    runner = _train_tool().main([config, '--work-dir', str(tmp / 'folded'), '--cfg-options',
                                 f'load_from={deploy}', 'model.backbone.deploy=True'])
    model = runner.model
    layers = dict(iter_computing_layers(model))
    assert len(layers) == 5 and all(layer.deploy for layer in layers.values())
    in_optimizer = {id(p) for g in runner.optim_wrapper.optimizer.param_groups
                    for p in g['params']}
    assert all(id(p) in in_optimizer for layer in layers.values() for p in layer.parameters())
    # the folded operators trained: they differ from the loaded checkpoint
    name, layer = next(iter(layers.items()))
    weights = {k: v for k, v in layer.state_dict().items() if k.endswith('weight')}
    assert any(not torch.equal(v, loaded[f'{name}.{k}']) for k, v in weights.items())


def test_training_checkpoint_still_loads_into_a_training_run(cls_case):
    config, train, _, tmp = cls_case
    runner = _train_tool().main([config, '--work-dir', str(tmp / 'train'),
                                 '--cfg-options', f'load_from={train}'])
    assert not any(layer.deploy for _, layer in iter_computing_layers(runner.model))
    assert osp.isfile(tmp / 'train' / 'epoch_1.pth')
