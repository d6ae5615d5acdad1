"""The CityScapes DeepLab configs (Table XIV, paper §IV-D1g) and the ImageNet -> CityScapes
pretrained chain."""
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from repl_mm.core.plan import removal_plan
from repl_mm.testing.configs import config_diff

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
HEADS = {'deeplabv3': 'ASPPHead', 'deeplabv3plus': 'DepthwiseSeparableASPPHead'}
E2E = [f'{m}_r{d}_cityscapes' for m in HEADS for d in (50, 101)]
PAIRS = [(n, n.replace('_cityscapes', '_repl_cityscapes')) for n in E2E]


def _load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, name + '.py'))


def _build(model_cfg, scope: str):
    import importlib
    importlib.import_module(f'{scope}.utils').register_all_modules(init_default_scope=False)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(model_cfg)


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _bottleneck_saving(backbone) -> int:
    """sum_r (P_r - a_r) = 2CB + 9B^2 + 2B over the removed Bottlenecks (eq. 48)."""
    total = 0
    stages = [getattr(backbone, n) for n in backbone.res_layers]
    for stage, removed in zip(stages, removal_plan([len(s) for s in stages], 4)):
        for i in removed:
            c, b = stage[i].conv3.out_channels, stage[i].conv2.out_channels
            total += 2 * c * b + 9 * b * b + 2 * b
    return total


@pytest.mark.parametrize('e2e_name,repl_name', PAIRS, ids=[p[1] for p in PAIRS])
def test_pair_builds_with_paper_recipe(e2e_name, repl_name):
    head, depth = e2e_name.split('_')[0], int(e2e_name.split('_')[1][1:])
    e2e_cfg, repl_cfg = _load(e2e_name), _load(repl_name)
    for cfg, tag in ((e2e_cfg, ''), (repl_cfg, '_repl')):
        assert cfg.default_scope == 'mmseg'
        assert 'repl_mm' in cfg.custom_imports['imports']
        # paper §IV-D1g: SGD, lr 0.1, batch 16 on one GPU, crop 768, 30k iterations
        assert (cfg.optim_wrapper.optimizer.type, cfg.optim_wrapper.optimizer.lr) == ('SGD', 0.1)
        assert cfg.train_dataloader.batch_size == 16
        assert cfg.train_cfg.max_iters == 30000
        assert cfg.param_scheduler[0].end == 30000
        crop = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomCrop']
        assert tuple(crop[0].crop_size) == (768, 768)
        assert tuple(cfg.model.data_preprocessor.size) == (768, 768)
        assert cfg.train_dataloader.dataset.type == 'CityscapesDataset'
        assert cfg.val_evaluator.type == 'IoUMetric'
        # mmseg's V1c backbone, d8 dilations
        bb = cfg.model.backbone
        assert bb.type == ('ResNetV1cRepL' if tag else 'ResNetV1c') and bb.depth == depth
        assert tuple(bb.dilations) == (1, 1, 2, 4) and tuple(bb.strides) == (1, 2, 1, 1)
        assert cfg.model.decode_head.type == HEADS[head]
        # fine-tuned from the ImageNet checkpoint of the matching V1c classification config
        assert cfg.model.pretrained is None
        assert bb.init_cfg.type == 'Pretrained' and bb.init_cfg.prefix == 'backbone.'
        cls_name = f'resnet{depth}-v1c{tag}_imagenet'
        assert bb.init_cfg.checkpoint == f'work_dirs/{cls_name}/epoch_90.pth'
        cls_cfg = _load(cls_name)
        assert cls_cfg.model.backbone.type == 'mmseg.' + bb.type
        assert cls_cfg.model.backbone.depth == depth
    assert repl_cfg.model.backbone.interval == 4
    # the RepL twin changes the backbone type, the interval and the checkpoint, nothing else
    assert set(config_diff(e2e_cfg, repl_cfg)) == {
        'model.backbone.type', 'model.backbone.interval', 'model.backbone.init_cfg.checkpoint',
        'pretrained'}

    e2e, repl = _build(e2e_cfg.model, 'mmseg'), _build(repl_cfg.model, 'mmseg')
    assert type(repl.backbone).__name__ == 'ResNetV1cRepL'
    assert repl.backbone.removal_plan == removal_plan(
        [3, 4, 6, 3] if depth == 50 else [3, 4, 23, 3], 4)
    assert _params(e2e) - _params(repl) == _bottleneck_saving(e2e.backbone) > 0


def _randomise_(state):
    gen = torch.Generator().manual_seed(1)
    for k, v in state.items():
        if v.is_floating_point():
            v.copy_(torch.randn(v.shape, generator=gen))
        else:
            v.copy_(torch.randint(1, 50, v.shape, generator=gen))


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.parametrize('cls_name,seg_name', [
    ('resnet50-v1c_repl_imagenet', 'deeplabv3_r50_repl_cityscapes'),
    ('resnet50-v1c_imagenet', 'deeplabv3plus_r50_cityscapes'),
    ('resnet101-v1c_repl_imagenet', 'deeplabv3plus_r101_repl_cityscapes'),
])
def test_pretrained_chain(tmp_path, cls_name, seg_name):
    """A checkpoint of the ImageNet classification config initialises the DeepLab backbone
    through init_cfg Pretrained(prefix='backbone.') with no missing / unexpected key."""
    classifier = _build(_load(cls_name).model, 'mmpretrain')
    state = classifier.state_dict()
    _randomise_(state)       # values a fresh seg backbone cannot have by chance
    ckpt = tmp_path / 'epoch_90.pth'
    torch.save({'state_dict': state, 'meta': {'epoch': 90}}, ckpt)

    seg_cfg = _load(seg_name)
    seg_cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    seg = _build(seg_cfg.model, 'mmseg')
    logger = MMLogger.get_current_instance()
    capture = _Capture()
    logger.addHandler(capture)
    try:
        seg.init_weights()
    finally:
        logger.removeHandler(capture)
    log = '\n'.join(capture.messages)
    assert f'load backbone. in model from: {ckpt}' in log
    # mmengine's load_state_dict reports any mismatch under this heading
    assert 'do not match exactly' not in log, log
    assert 'missing keys' not in log and 'unexpected key' not in log, log

    backbone_state = seg.backbone.state_dict()
    source = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    assert set(backbone_state) == set(source)
    for k, v in backbone_state.items():
        assert torch.equal(v, source[k]), k
    # the decode heads are not touched by the backbone checkpoint
    assert not any(k.startswith('decode_head') for k in state)
