"""The classification configs (Tables I, II, XIII; paper §IV-A, §IV-D1f): every config loads
and builds in the mmpretrain scope, carries the paper's recipe, and each RepL config differs
from its E2E twin only in the backbone (and the pretrained checkpoint)."""
import os.path as osp
from typing import List, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from repl_mm.core.plan import removal_plan
from repl_mm.testing.configs import config_diff

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')

IMAGENET_RESNETS = {'resnet34': 34, 'resnet101': 101, 'resnet152': 152,
                    'resnet50-v1c': 50, 'resnet101-v1c': 101}
IMAGENET_VITS = {'vit-tiny-p16': ('deit-tiny', 192), 'vit-small-p16': ('deit-small', 384),
                 'vit-base-p16': ('base', 768)}
SMALL_SETS = ('cifar10', 'svhn', 'stl10')
SMALL_MODELS = ('cifar-resnet32', 'cifar-resnet110', 'vit-tiny-p8', 'vit-small-p16-ft')


def _pairs() -> List[Tuple[str, str]]:
    pairs = [(f'{m}_imagenet', f'{m}_repl_imagenet')
             for m in list(IMAGENET_RESNETS) + list(IMAGENET_VITS)]
    pairs += [(f'{m}_{d}', f'{m}_repl_{d}') for m in SMALL_MODELS for d in SMALL_SETS]
    return pairs


PAIRS = _pairs()


def _load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, name + '.py'))


def _build(cfg: Config):
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _transforms(pipeline, type_name):
    return [t for t in pipeline if t['type'] == type_name]


def test_every_config_is_listed():
    import glob
    names = {osp.basename(p)[:-3] for p in glob.glob(osp.join(CONFIGS, '*.py'))}
    cls = {n for n in names if n.endswith(('_imagenet', '_cifar10', '_svhn', '_stl10'))
           and '_skipat_' not in n}  # Skip-Attention baselines: tests/models/test_skipat.py
    assert cls == {n for pair in PAIRS for n in pair}
    assert len(cls) == 2 * (len(IMAGENET_RESNETS) + len(IMAGENET_VITS)) + 2 * 4 * 3


def _removed_resnet_params(model) -> int:
    """sum_r (P_r - a_r) over the removed blocks (eq. 43-48, q = 3), from the E2E model."""
    backbone = model.backbone
    stages = [getattr(backbone, n) for n in backbone.res_layers]
    plan = removal_plan([len(s) for s in stages], 4)
    total = 0
    for stage, removed in zip(stages, plan):
        for i in removed:
            block = stage[i]
            if hasattr(block, 'conv3'):      # Bottleneck: eq. 48
                c, b = block.conv3.out_channels, block.conv2.out_channels
                total += 2 * c * b + b * b * 9 + 2 * b
            else:                            # BasicBlock: eq. 43 - eq. 44
                c = block.conv2.out_channels
                total += 2 * c * c * 9
    return total


@pytest.mark.parametrize('e2e_name,repl_name', PAIRS, ids=[p[1] for p in PAIRS])
def test_pair_builds_and_differs_only_in_backbone(e2e_name, repl_name):
    e2e_cfg, repl_cfg = _load(e2e_name), _load(repl_name)
    for cfg in (e2e_cfg, repl_cfg):
        assert cfg.default_scope == 'mmpretrain'
        assert 'repl_mm' in cfg.custom_imports['imports']
        assert cfg.custom_imports['allow_failed_imports'] is False

    # the RepL config changes the backbone type, adds the interval, and (fine-tuning) its
    # pretrained checkpoint -- nothing else of the recipe
    diff = config_diff(e2e_cfg, repl_cfg)
    changed = set(diff)
    a = {k: before for k, (before, _) in diff.items()}
    b = {k: after for k, (_, after) in diff.items()}
    allowed = {'model.backbone.type', 'model.backbone.interval'}
    if 'ft' in e2e_name:
        allowed |= {'pretrained', 'model.backbone.init_cfg.checkpoint'}
        assert b['model.backbone.init_cfg.checkpoint'] == \
            'work_dirs/vit-small-p16_repl_imagenet/epoch_90.pth'
        assert a['model.backbone.init_cfg.checkpoint'] == \
            'work_dirs/vit-small-p16_imagenet/epoch_90.pth'
    assert changed <= allowed and {'model.backbone.type', 'model.backbone.interval'} <= changed
    assert b['model.backbone.interval'] == 4

    e2e = _build(e2e_cfg)
    e2e_params = _params(e2e)
    repl = _build(repl_cfg)
    assert type(repl.backbone).__name__ == b['model.backbone.type'].split('.')[-1]
    saved = e2e_params - _params(repl)
    if 'vit' in e2e_name:
        # 12 layers, K = 4: layers 4 and 8 removed; a ViT layer holds 12 d^2 + 13 d
        # parameters (eq. 49), its computing layer only O(d)
        d = e2e.backbone.embed_dims
        assert len(repl.backbone.layers) == 12
        per_layer = 12 * d * d + 13 * d
        computing = (2 * per_layer - saved) / 2
        assert 0 < computing <= 32 * d, computing
    else:
        assert saved == _removed_resnet_params(e2e) > 0


def _recipe(name: str):
    if name.startswith('resnet'):
        return dict(opt='SGD', lr=0.2, batch=128, epochs=90)      # x4 GPUs = 512
    if name.endswith('_imagenet'):
        return dict(opt='AdamW', lr=7.5e-4, batch=256, epochs=90)  # x4 GPUs = 1024
    if name.startswith('cifar-resnet'):
        return dict(opt='SGD', lr=0.8, batch=1024, epochs=250)
    if name.startswith('vit-tiny-p8'):
        return dict(opt='AdamW', lr=1e-3, batch=512, epochs=250)
    return dict(opt='AdamW', lr=2e-4, batch=512, epochs=100)      # ViT-S/16 fine-tuning


@pytest.mark.parametrize('name', [p[0] for p in PAIRS])
def test_paper_recipe(name):
    cfg = _load(name)
    want = _recipe(name)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr) == (want['opt'], want['lr'])
    assert cfg.train_dataloader.batch_size == want['batch']
    assert cfg.train_cfg.max_epochs == want['epochs']
    train, test = cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline
    dataset = name.rsplit('_', 1)[1]
    if dataset == 'imagenet':
        assert cfg.train_dataloader.dataset.type == 'ImageNet'
        assert _transforms(train, 'RandomResizedCrop')[0]['scale'] == 224
        assert _transforms(train, 'RandomFlip')[0]['prob'] == 0.5
        assert _transforms(test, 'ResizeEdge')[0]['scale'] == 256
        assert _transforms(test, 'CenterCrop')[0]['crop_size'] == 224
        assert tuple(cfg.val_evaluator.topk) == (1, 5)
        assert cfg.model.head.num_classes == 1000
        return
    assert cfg.model.head.num_classes == 10
    crop = _transforms(train, 'RandomCrop')[0]
    flips = _transforms(train, 'RandomFlip')
    if dataset == 'cifar10':
        assert (crop['crop_size'], crop['padding'], crop['padding_mode']) == (32, 4, 'reflect')
        assert flips[0]['prob'] == 0.5
    elif dataset == 'svhn':
        assert (crop['crop_size'], crop['padding']) == (32, 2) and not flips
    else:
        assert (crop['crop_size'], crop['padding']) == (96, 4) and flips[0]['prob'] == 0.5
    if 'ft' in name:
        for pipeline in (train, test):
            assert _transforms(pipeline, 'Resize')[0]['scale'] == 224
        assert cfg.model.backbone.init_cfg.type == 'Pretrained'
        assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
        assert (cfg.model.backbone.img_size, cfg.model.backbone.patch_size) == (224, 16)
    elif name.startswith('vit'):
        img = 96 if dataset == 'stl10' else 32
        assert (cfg.model.backbone.arch, cfg.model.backbone.img_size,
                cfg.model.backbone.patch_size) == ('deit-tiny', img, 8)


def test_resnet_depths_and_v1c_stem():
    for name, depth in IMAGENET_RESNETS.items():
        cfg = _load(f'{name}_repl_imagenet')
        assert cfg.model.backbone.depth == depth
        want = 'mmseg.ResNetV1cRepL' if 'v1c' in name else 'ResNetRepL'
        assert cfg.model.backbone.type == want
    # the V1c pretraining backbone is mmseg's class: same stem names as the DeepLab backbone
    model = _build(_load('resnet50-v1c_repl_imagenet'))
    assert type(model.backbone).__module__ == 'repl_mm.adapters.mmseg'
    assert 'stem.0.weight' in model.backbone.state_dict()
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 1000)


def test_small_dataset_classes_registered():
    from mmpretrain.registry import DATASETS
    _load('cifar-resnet32_svhn')   # its custom_imports import repl_mm.datasets
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for name in ('SVHN', 'STL10', 'CIFAR10'):
            assert DATASETS.get(name) is not None, name


@pytest.mark.parametrize('tag', ['', '_repl'])
def test_vit_finetune_chain(tmp_path, tag):
    """The ImageNet ViT-S/16 checkpoint initialises the fine-tuning backbone (Table XIII)
    key for key; the 1000-class head is left out."""
    imagenet = _build(_load(f'vit-small-p16{tag}_imagenet'))
    state = imagenet.state_dict()
    gen = torch.Generator().manual_seed(2)
    for v in state.values():
        v.copy_(torch.randn(v.shape, generator=gen))
    ckpt = tmp_path / 'epoch_90.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    cfg = _load(f'vit-small-p16-ft{tag}_cifar10')
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    model = _build(cfg)
    model.init_weights()
    got = model.backbone.state_dict()
    source = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    assert set(got) == set(source)
    for k, v in got.items():
        assert torch.equal(v, source[k]), k
    assert model.head.layers.head.weight.shape == (10, 384)
