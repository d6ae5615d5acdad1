"""The CLI of tools/train.py and tools/test.py and how it lands in the config, for the three
toolboxes (the config's default_scope picks)."""
import os.path as osp

import pytest

from repl_mm.engine import load_config, merge_test_args, merge_train_args

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

BASES = {'mmdet': 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
         'mmseg': 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb2-40k_cityscapes-512x1024.py',
         'mmpretrain': 'mmpretrain::resnet/resnet18_8xb32_in1k.py'}
DET_CONFIG = osp.join(ROOT, 'configs', 'retinanet_r50_repl_coco.py')


def _cfg(tmp_path, scope):
    path = tmp_path / f'my_{scope}_config.py'
    path.write_text(f"_base_ = '{BASES[scope]}'\n")
    return str(path)


def test_train_parse_args(train_tool):
    a = train_tool.parse_args([DET_CONFIG])
    assert a.resume is None and a.launcher == 'none' and not a.amp and not a.auto_scale_lr
    assert train_tool.parse_args([DET_CONFIG, '--resume']).resume == 'auto'
    assert train_tool.parse_args([DET_CONFIG, '--resume', 'x.pth']).resume == 'x.pth'
    assert train_tool.parse_args([DET_CONFIG, '--local-rank', '3']).local_rank == 3
    assert train_tool.parse_args([DET_CONFIG, '--local_rank', '2']).local_rank == 2
    a = train_tool.parse_args([DET_CONFIG, '--cfg-options', 'train_cfg.max_epochs=3',
                               'model.backbone.interval=5', '--launcher', 'slurm'])
    assert a.cfg_options == {'train_cfg.max_epochs': 3, 'model.backbone.interval': 5}
    assert a.launcher == 'slurm'
    with pytest.raises(SystemExit):
        train_tool.parse_args([DET_CONFIG, '--launcher', 'local'])


def test_merge_train_args(train_tool):
    args = train_tool.parse_args([DET_CONFIG, '--amp', '--auto-scale-lr', '--resume',
                                  '--cfg-options', 'model.backbone.interval=5'])
    cfg = load_config(args.config, args.cfg_options)
    merge_train_args(cfg, args)
    assert cfg.model.backbone.interval == 5
    assert cfg.work_dir == './work_dirs/retinanet_r50_repl_coco'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=8)
    assert cfg.resume is True and cfg.load_from is None
    args = train_tool.parse_args([DET_CONFIG, '--resume', 'w/epoch_3.pth', '--work-dir', 'w'])
    cfg = merge_train_args(load_config(args.config), args)
    assert cfg.resume is True and cfg.load_from == 'w/epoch_3.pth' and cfg.work_dir == 'w'


def test_auto_scale_lr_needs_base_batch_size(tmp_path, train_tool):
    path = tmp_path / 'no_auto_scale.py'
    path.write_text(f"_base_ = '{DET_CONFIG}'\nauto_scale_lr = None\n")
    args = train_tool.parse_args([str(path), '--auto-scale-lr'])
    with pytest.raises(ValueError, match='auto_scale_lr'):
        merge_train_args(load_config(args.config), args)


@pytest.mark.parametrize('scope', list(BASES))
def test_show_dir_per_toolbox(tmp_path, test_tool, scope):
    path = _cfg(tmp_path, scope)
    args = test_tool.parse_args([path, 'ckpt.pth', '--show-dir', 'vis'])
    cfg = merge_test_args(load_config(path), args)
    assert cfg.load_from == 'ckpt.pth' and cfg.launcher == 'none'
    hook = cfg.default_hooks.visualization
    if scope == 'mmdet':
        assert hook.type == 'DetVisualizationHook' and hook.draw and hook.test_out_dir == 'vis'
    elif scope == 'mmseg':
        assert hook.type == 'SegVisualizationHook' and hook.draw
        assert cfg.visualizer.save_dir == 'vis'
    else:
        assert hook.type == 'VisualizationHook' and hook.enable and hook.out_dir == 'vis'
        assert cfg.test_dataloader.collate_fn == dict(type='default_collate')


def test_mmpretrain_dataloader_defaults(tmp_path, train_tool):
    path = _cfg(tmp_path, 'mmpretrain')
    args = train_tool.parse_args([path, '--cfg-options', 'train_dataloader.num_workers=0'])
    cfg = merge_train_args(load_config(path, args.cfg_options), args)
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
    assert cfg.train_dataloader.pin_memory is True
    assert cfg.train_dataloader.persistent_workers is False  # num_workers=0
    assert cfg.val_dataloader.persistent_workers is True
