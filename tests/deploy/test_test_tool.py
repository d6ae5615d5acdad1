"""tools/test.py with RepL checkpoints of either form and the toolboxes' test options:
--tta, --out-item, --amp, --no-pin-memory, --interval / --show-dir."""
import glob
import pickle
from argparse import Namespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from repl_deploy_configs import det_config, make_checkpoints, seg_config

from repl_mm.engine.runner.build import merge_test_args
from repl_mm.testing.tools import load_tool


def _tool():
    return load_tool('tools/test.py')


def _scores(path):
    with open(path, 'rb') as f:
        return np.stack([r['pred_score'].numpy() for r in pickle.load(f)])


def test_both_forms_with_the_training_config_give_equal_outputs(cls_case):
    config, train, deploy, tmp = cls_case
    tool = _tool()
    m_train = tool.main([config, train, '--work-dir', str(tmp / 't1'),
                         '--out', str(tmp / 'train.pkl')])
    m_deploy = tool.main([config, deploy, '--work-dir', str(tmp / 't2'),
                          '--out', str(tmp / 'deploy.pkl')])
    assert m_train == m_deploy and 'accuracy/top1' in m_train
    a, b = _scores(tmp / 'train.pkl'), _scores(tmp / 'deploy.pkl')
    assert a.shape == (12, 6)
    assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()
    # the deploy checkpoint with the deploy config: the same
    m = tool.main([config, deploy, '--work-dir', str(tmp / 't3'),
                   '--cfg-options', 'model.backbone.deploy=True'])
    assert m == m_train


def test_training_checkpoint_with_deploy_config_is_refused(cls_case):
    config, train, _, tmp = cls_case
    with pytest.raises(SystemExit) as e:
        _tool().main([config, train, '--work-dir', str(tmp / 't4'),
                      '--cfg-options', 'model.backbone.deploy=True'])
    msg = str(e.value.code)
    assert train in msg and 'reparameterize_model.py' in msg and 'deploy=False' in msg


def test_corrupted_checkpoint_names_the_file(cls_case, tmp_path):
    config, train, _, _ = cls_case
    bad = tmp_path / 'bad.pth'
    with open(train, 'rb') as f:
        bad.write_bytes(f.read()[:2000])
    with pytest.raises(SystemExit) as e:
        _tool().main([config, str(bad), '--work-dir', str(tmp_path / 'w')])
    assert str(bad) in str(e.value.code) and 'truncated or corrupt' in str(e.value.code)


def test_out_item_metrics_tta_amp(cls_case):
    import mmengine
    config, _, deploy, tmp = cls_case
    tool = _tool()
    metrics = tool.main([config, deploy, '--work-dir', str(tmp / 't5'), '--out',
                         str(tmp / 'metrics.json'), '--out-item', 'metrics'])
    assert mmengine.load(str(tmp / 'metrics.json')) == pytest.approx(metrics)
    tta = tool.main([config, deploy, '--work-dir', str(tmp / 't6'), '--tta'])
    assert 0 <= tta['accuracy/top1'] <= tta['accuracy/top5'] <= 100
    amp = tool.main([config, deploy, '--work-dir', str(tmp / 't7'), '--amp', '--no-pin-memory'])
    assert 0 <= amp['accuracy/top1'] <= 100
    with pytest.raises(SystemExit):            # --out-item needs --out
        tool.parse_args([config, deploy, '--out-item', 'metrics'])


def test_merge_test_args_options(cls_case):
    config, _, deploy, _ = cls_case
    from repl_mm.engine.runner.build import load_config
    cfg = load_config(config)
    args = Namespace(config=config, checkpoint=deploy, work_dir=None, show=False,
                     show_dir='vis', wait_time=2, interval=3, out=None, tta=True, amp=True,
                     no_pin_memory=True, launcher='none')
    merge_test_args(cfg, args)
    assert cfg.test_cfg.fp16 is True and cfg.test_dataloader.pin_memory is False
    assert cfg.model.type == 'mmpretrain.AverageClsScoreTTA'
    assert cfg.test_dataloader.dataset.pipeline[-1]['type'] == 'TestTimeAug'
    vis = cfg.default_hooks.visualization
    assert (vis.enable, vis.out_dir, vis.interval) == (True, 'vis', 3)
    with pytest.raises(ValueError, match='--interval'):
        merge_test_args(load_config(config), Namespace(**dict(vars(args), interval=0)))


def test_mmseg_show_dir_writes_every_image_and_tta(tmp_path):
    config = seg_config(tmp_path)
    _, deploy = make_checkpoints(config, tmp_path, size=(32, 64))
    tool = _tool()
    show = tmp_path / 'show'
    tool.main([config, deploy, '--work-dir', str(tmp_path / 'w'), '--show-dir', str(show)])
    drawn = glob.glob(str(show / '**' / '*.png'), recursive=True)
    assert len(drawn) == 2, drawn                # 2 val images, interval 1
    cfg = Config.fromfile(config)
    assert 'tta_model' in cfg and 'tta_pipeline' in cfg
    metrics = tool.main([config, deploy, '--work-dir', str(tmp_path / 'w2'), '--tta'])
    assert 0 <= metrics['mIoU'] <= 100


def test_mmdet_show_dir_and_tta(tmp_path):
    config = det_config(tmp_path)
    train, deploy = make_checkpoints(config, tmp_path, size=(64, 64))
    tool = _tool()
    m_train = tool.main([config, train, '--work-dir', str(tmp_path / 'w0')])
    m_deploy = tool.main([config, deploy, '--work-dir', str(tmp_path / 'w1'),
                          '--show-dir', 'shown'])
    assert m_train == pytest.approx(m_deploy)
    drawn = glob.glob(str(tmp_path / 'w1' / '*' / 'shown' / '*'))
    assert len(drawn) == 4, drawn                # the 4 val images
    metrics = tool.main([config, deploy, '--work-dir', str(tmp_path / 'w2'), '--tta'])
    assert 'coco/bbox_mAP' in metrics


def test_checkpoint_of_another_architecture_is_refused(cls_case, tmp_path):
    """A checkpoint whose keys do not fit the config is not evaluated with random layers:
    tools/test.py exits naming the file and the config (--non-strict: mmengine's warning)."""
    config, train, _, _ = cls_case
    other = tmp_path / 'other.pth'
    ckpt = torch.load(train, map_location='cpu', weights_only=False)  # our own test file
    ckpt['state_dict'] = {k: v for k, v in ckpt['state_dict'].items()
                          if not k.startswith('head.')}
    torch.save(ckpt, other)
    with pytest.raises(SystemExit) as e:
        _tool().main([config, str(other), '--work-dir', str(tmp_path / 'w')])
    msg = str(e.value.code)
    assert str(other) in msg and config in msg and 'missing keys' in msg and 'head.fc' in msg
    metrics = _tool().main([config, str(other), '--work-dir', str(tmp_path / 'w2'),
                            '--non-strict'])
    assert 'accuracy/top1' in metrics
