"""The COCO RetinaNet configs of Table VIII (paper §IV-D1a), the 1x pretrained variants and the
CPU demo configs: they build in the mmdet scope, follow the paper's recipe, and each RepL
config differs from its E2E twin only in the backbone."""
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

from repl_mm.analysis.closed_forms import basic_block_params, bottleneck_params
from repl_mm.core.stage import computing_layers
from repl_mm.engine import detect_scope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
PAIRS = [('retinanet_r50_coco', 'retinanet_r50_repl_coco', 50, [[], [], [3], []]),
         ('retinanet_r101_coco', 'retinanet_r101_repl_coco', 101,
          [[], [], [3, 7, 11, 15, 19], []]),
         ('demo/retinanet_r34_shapes', 'demo/retinanet_r34_repl_shapes', 34,
          [[1], [2], [2, 4], []])]
PRETRAINED = [('retinanet_r50_repl_fpn_1x_coco_pretrained', 50, 'torchvision://resnet50'),
              ('retinanet_r101_repl_fpn_1x_coco_pretrained', 101, 'torchvision://resnet101')]


def _load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, name + '.py'))


def _build(model_cfg):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(model_cfg)


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _saving(e2e_backbone, plan) -> int:
    """sum_r (P_r - a_r) over the removed blocks: eq. 43/44 for BasicBlocks (a_r = 4C) and
    eq. 46/47 for Bottlenecks (a_r = 2B + 2C)."""
    total = 0
    for name, removed in zip(e2e_backbone.res_layers, plan):
        for i in removed:
            block = getattr(e2e_backbone, name)[i]
            if hasattr(block, 'conv3'):
                c, b = block.conv3.out_channels, block.conv2.out_channels
                total += bottleneck_params(c, b) - (2 * b + 2 * c)
            else:
                c = block.conv2.out_channels
                total += basic_block_params(c) - 4 * c
    return total


@pytest.mark.parametrize('e2e_name,repl_name,depth,plan', PAIRS, ids=[p[1] for p in PAIRS])
def test_pair_builds_and_repl_saves_the_removed_blocks(e2e_name, repl_name, depth, plan):
    e2e_cfg, repl_cfg = _load(e2e_name), _load(repl_name)
    assert detect_scope(e2e_cfg) == detect_scope(repl_cfg) == 'mmdet'
    assert repl_cfg.custom_imports == dict(imports=['repl_mm'], allow_failed_imports=False)
    torch.manual_seed(0)
    e2e, repl = _build(e2e_cfg.model), _build(repl_cfg.model)
    assert type(e2e).__name__ == type(repl).__name__ == 'RetinaNet'
    assert type(e2e.backbone).__name__ == 'ResNet'
    assert type(repl.backbone).__name__ == 'ResNetRepL'
    assert e2e.backbone.depth == repl.backbone.depth == depth
    assert repl.backbone.removal_plan == plan
    layers = dict(computing_layers(repl.backbone))
    assert sorted(layers) == sorted(f'{s}.{i}' for s, r in zip(repl.backbone.res_layers, plan)
                                    for i in r)
    # RepL has fewer parameters, by exactly the removed blocks minus their computing layers
    assert _params(e2e) - _params(repl) == _saving(e2e.backbone, plan) > 0
    # neck and head are untouched
    assert _params(e2e.neck) == _params(repl.neck)
    assert _params(e2e.bbox_head) == _params(repl.bbox_head)
    x = torch.randn(1, 3, 64, 64)
    repl.eval()
    with torch.no_grad():
        feats = repl.extract_feat(x)
    assert [f.shape[-1] for f in feats] == [8, 4, 2, 1, 1]


@pytest.mark.parametrize('e2e_name,repl_name', [p[:2] for p in PAIRS],
                         ids=[p[1] for p in PAIRS])
def test_repl_config_differs_from_twin_only_in_backbone(e2e_name, repl_name):
    e2e, repl = _load(e2e_name).to_dict(), _load(repl_name).to_dict()
    e2e_bb, repl_bb = e2e['model'].pop('backbone'), repl['model'].pop('backbone')
    assert e2e == repl
    extra = {k: v for k, v in repl_bb.items() if e2e_bb.get(k, object()) != v}
    assert extra.pop('type') == 'ResNetRepL'
    assert set(extra) <= {'interval', 'replace_blocks'} and extra


@pytest.mark.parametrize('name', ['retinanet_r50_coco', 'retinanet_r50_repl_coco',
                                  'retinanet_r101_coco', 'retinanet_r101_repl_coco'])
def test_paper_recipe(name):
    """4 GPUs x 2 images, Adam, lr 4e-5, 100 epochs, from scratch (paper §IV-D1a)."""
    cfg = _load(name)
    assert cfg.train_dataloader.batch_size == 2 and cfg.auto_scale_lr.base_batch_size == 8
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=4e-5, weight_decay=0.0)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.param_scheduler[-1]['end'] == 500 and len(cfg.param_scheduler) == 1
    bb = cfg.model.backbone
    assert bb.init_cfg is None and bb.frozen_stages == -1 and bb.norm_eval is False
    assert cfg.model.bbox_head.num_classes == 80
    assert cfg.val_evaluator.type == 'CocoMetric' and cfg.val_evaluator.metric == 'bbox'


def test_data_root_from_environment(monkeypatch):
    monkeypatch.setenv('COCO_ROOT', '/datasets/coco/')
    for name in ('retinanet_r101_repl_coco', 'retinanet_r50_repl_fpn_1x_coco_pretrained'):
        cfg = _load(name)
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[loader].dataset.data_root == '/datasets/coco/'
        for evaluator in ('val_evaluator', 'test_evaluator'):
            assert cfg[evaluator].ann_file == '/datasets/coco/annotations/instances_val2017.json'
    monkeypatch.delenv('COCO_ROOT')
    assert _load('retinanet_r50_coco').train_dataloader.dataset.data_root == 'data/coco/'


@pytest.mark.parametrize('name,depth,checkpoint', PRETRAINED, ids=[p[0] for p in PRETRAINED])
def test_pretrained_variant_keeps_mmdet_1x_recipe(name, depth, checkpoint):
    cfg = _load(name)
    assert cfg.model.backbone.type == 'ResNetRepL' and cfg.model.backbone.interval == 4
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint=checkpoint)
    assert cfg.model.backbone.depth == depth
    assert cfg.train_cfg.max_epochs == 12 and cfg.optim_wrapper.optimizer.type == 'SGD'


def test_pretrained_init_loads_retained_blocks(tmp_path):
    """init_cfg Pretrained with a torchvision-layout ResNet-50 checkpoint: every retained
    block gets its weights, the removed block's keys are unexpected, the computing layer keeps
    its initial synthesis coefficients. The file goes through the safe local loader."""
    cfg = _load('retinanet_r50_repl_fpn_1x_coco_pretrained')
    stock = _build(dict(type='ResNet', depth=50, init_cfg=None))
    for p in stock.parameters():
        torch.nn.init.normal_(p)
    path = str(tmp_path / 'resnet50_torchvision_layout.pth')
    torch.save(stock.state_dict(), path)
    bb_cfg = cfg.model.backbone.copy()
    bb_cfg.init_cfg = dict(type='Pretrained', checkpoint=path)
    repl = _build(bb_cfg)
    repl.init_weights()
    stock_sd, repl_sd = stock.state_dict(), repl.state_dict()
    retained = [k for k in repl_sd if not k.startswith('layer3.3.')]
    assert len(retained) == len(stock_sd) - len([k for k in stock_sd if k.startswith('layer3.3.')])
    for k in retained:
        assert torch.equal(repl_sd[k], stock_sd[k]), k
    layer = repl.layer3[3]
    assert torch.equal(layer.synthesis.alpha, torch.full((256,), 0.5))
    assert torch.equal(layer.synthesis.beta, torch.full((256,), 0.5))
