"""E2E -> RepL checkpoint conversion (repl_mm/deploy/convert.py,
tools/model_converters/convert_e2e_to_repl.py)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from repl_mm.deploy.convert import (
    ConversionReport,
    build_repl_target,
    convert_checkpoint,
    convert_e2e_to_repl,
    detect_layout,
    split_source,
    unwrap_state_dict,
)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs')


def _randomised(state):
    """Random values everywhere, so that 'copied' cannot pass by fresh-init coincidence."""
    gen = torch.Generator().manual_seed(0)
    out = {}
    for k, v in state.items():
        if v.is_floating_point():
            out[k] = torch.randn(v.shape, generator=gen)
        else:
            out[k] = torch.randint(0, 100, v.shape, generator=gen).to(v.dtype)
    return out


@pytest.fixture(scope='module')
def torchvision_r50():
    torchvision = pytest.importorskip('torchvision')
    return _randomised(torchvision.models.resnet50(weights=None).state_dict())


def _mm_name(torchvision_key: str) -> str:
    # mm's ResNet names BNs like torchvision (build_norm_layer -> 'bn1'), so only fc moves
    return 'head.' + torchvision_key if torchvision_key.startswith('fc.') \
        else 'backbone.' + torchvision_key


def test_torchvision_layout_resnet50(torchvision_r50):
    backbone, head = build_repl_target(depth=50, interval=4)
    assert backbone.removal_plan == [[], [], [3], []]     # eq. 16, K=4, blocks (3, 4, 6, 3)
    out, report = convert_e2e_to_repl(torchvision_r50, backbone, head)
    assert report.layout == 'torchvision'

    # removed block layer3.3 (1-based block 4 of stage 3): all its 18 tensors dropped
    want_dropped = sorted(k for k in torchvision_r50 if k.startswith('layer3.3.'))
    assert sorted(report.dropped) == want_dropped and len(want_dropped) == 18
    # every other tensor copied verbatim, to the mm name
    kept = [k for k in torchvision_r50 if not k.startswith('layer3.3.')]
    assert sorted(report.copied) == sorted((k, _mm_name(k)) for k in kept)
    for k in kept:
        assert torch.equal(out[_mm_name(k)], torchvision_r50[k]), k
    assert report.unused == [] and report.missing == []

    # the computing layer: alpha = beta = 0.5 per middle channel (B = 256), default BN of C=1024
    assert sorted(report.initialised) == sorted(
        'backbone.layer3.3.' + k for k in ('synthesis.alpha', 'synthesis.beta', 'norm.weight',
                                           'norm.bias', 'norm.running_mean',
                                           'norm.running_var', 'norm.num_batches_tracked'))
    assert torch.equal(out['backbone.layer3.3.synthesis.alpha'], torch.full((256, ), 0.5))
    assert torch.equal(out['backbone.layer3.3.synthesis.beta'], torch.full((256, ), 0.5))
    assert torch.equal(out['backbone.layer3.3.norm.weight'], torch.ones(1024))
    assert torch.equal(out['backbone.layer3.3.norm.running_var'], torch.ones(1024))
    assert torch.equal(out['backbone.layer3.3.norm.bias'], torch.zeros(1024))

    # the output is exactly the RepL backbone's key set (plus the classifier)
    assert {k for k in out if k.startswith('backbone.')} == \
        {'backbone.' + k for k in backbone.state_dict()}
    assert {k for k in out if not k.startswith('backbone.')} == {'head.fc.weight',
                                                                'head.fc.bias'}
    backbone.load_state_dict({k[9:]: v for k, v in out.items() if k.startswith('backbone.')},
                             strict=True)


def test_mmpretrain_layout_into_config(tmp_path):
    """An mmpretrain ResNet-34 checkpoint into configs/resnet34_repl_imagenet.py."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(CONFIGS, 'resnet34_imagenet.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        e2e = MODELS.build(cfg.model)
    state = _randomised(e2e.state_dict())
    src = tmp_path / 'resnet34_e2e.pth'
    torch.save({'state_dict': state, 'meta': {'epoch': 90}}, src)
    dst = tmp_path / 'resnet34_repl_init.pth'
    report = convert_checkpoint(str(src), str(dst),
                                config=osp.join(CONFIGS, 'resnet34_repl_imagenet.py'))
    assert report.layout == 'mmpretrain'
    assert report.removal_plan == [[], [], [3], []]
    assert sorted(report.dropped) == sorted(k for k in state
                                            if k.startswith('backbone.layer3.3.'))
    # a BasicBlock: conv1, bn1, conv2, bn2 -> 2 + 2 x 5 = 12 tensors
    assert len(report.dropped) == 12
    assert report.unused == []

    out = torch.load(dst, weights_only=True)
    assert set(out) == {'state_dict', 'meta'}
    assert out['meta']['source_layout'] == 'mmpretrain'
    for src_key, dst_key in report.copied:
        assert src_key == dst_key
        assert torch.equal(out['state_dict'][dst_key], state[src_key])
    # the file loads strictly into the RepL classifier of the config
    repl_cfg = Config.fromfile(osp.join(CONFIGS, 'resnet34_repl_imagenet.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        repl = MODELS.build(repl_cfg.model)
    repl.load_state_dict(out['state_dict'], strict=True)
    # a BasicBlock computing layer has C alphas and C betas (eq. 44), C = 256 in stage 3
    assert repl.backbone.layer3[3].synthesis.alpha.shape == (256, )


def test_head_of_another_size_is_unused(torchvision_r50):
    backbone, _ = build_repl_target(depth=50)
    head = {'head.fc.weight': torch.zeros(10, 2048), 'head.fc.bias': torch.zeros(10)}
    out, report = convert_e2e_to_repl(torchvision_r50, backbone, head)
    assert sorted(report.unused) == ['fc.bias', 'fc.weight']
    assert not any(k.startswith('head.') for k in out)


def test_replace_blocks_and_interval(torchvision_r50):
    backbone, _ = build_repl_target(depth=50, replace_blocks=[[], [2], [2, 4], []])
    out, report = convert_e2e_to_repl(torchvision_r50, backbone)
    prefixes = ('layer2.2.', 'layer3.2.', 'layer3.4.')
    assert sorted(report.dropped) == sorted(k for k in torchvision_r50
                                            if k.startswith(prefixes))
    assert len(report.initialised) == 3 * 7
    backbone, _ = build_repl_target(depth=50, interval=None)   # nothing removed
    out, report = convert_e2e_to_repl(torchvision_r50, backbone)
    assert report.dropped == [] and report.initialised == []
    assert len(report.copied) == len(torchvision_r50)


def test_deep_stem_target_rejects_torchvision(torchvision_r50):
    backbone, _ = build_repl_target(depth=50, backbone_type='ResNetV1cRepL')
    with pytest.raises(ValueError, match=r'stem\.0\.conv\.weight is not in the source'):
        convert_e2e_to_repl(torchvision_r50, backbone)
    out, report = convert_e2e_to_repl(torchvision_r50, backbone, strict=False)
    assert 'backbone.stem.0.conv.weight' in report.missing
    assert 'conv1.weight' in report.unused and 'bn1.weight' in report.unused


def test_bad_arguments(torchvision_r50):
    with pytest.raises(ValueError, match='exactly one of config'):
        build_repl_target()
    with pytest.raises(ValueError, match='backbone_type must be one of'):
        build_repl_target(depth=50, backbone_type='ResNet')
    with pytest.raises(ValueError, match='layout must be one of'):
        split_source(torchvision_r50, 'timm')
    with pytest.raises(ValueError, match='must be a RepL ResNet'):
        convert_e2e_to_repl(torchvision_r50, torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match='holds no tensors'):
        unwrap_state_dict({'meta': {}})


def test_unwrap_and_detect():
    t = torch.zeros(1)
    assert unwrap_state_dict({'state_dict': {'module.a': t}, 'meta': 1}) == {'a': t}
    assert unwrap_state_dict({'model': {'b': t}}) == {'b': t}
    assert detect_layout({'backbone.conv1.weight': t}) == 'mmpretrain'
    assert detect_layout({'conv1.weight': t, 'fc.weight': t}) == 'torchvision'
    assert isinstance(ConversionReport('torchvision').summary(), str)


def test_tool_prints_mapping(tmp_path, torchvision_r50):
    src = tmp_path / 'r50_torchvision.pth'
    torch.save(torchvision_r50, src)
    dst = tmp_path / 'out' / 'r50_repl.pth'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'model_converters', 'convert_e2e_to_repl.py'),
         str(src), str(dst), '--depth', '50', '--interval', '4'],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert 'source layout: torchvision' in proc.stdout
    assert len(torchvision_r50) == 320
    assert 'mapped 302 tensors' in proc.stdout    # all 320 (fc included) but the 18 dropped
    assert 'dropped 18 tensors of removed blocks' in proc.stdout
    assert '  layer3.3.conv2.weight\n' in proc.stdout
    assert '  layer1.0.downsample.1.weight -> backbone.layer1.0.downsample.1.weight' \
        in proc.stdout
    assert 'initialised 7 computing-layer tensors' in proc.stdout
    out = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(out['backbone.layer4.2.conv3.weight'],
                       torchvision_r50['layer4.2.conv3.weight'])


def test_e2e_v1c_checkpoint_into_deeplab_repl_backbone(tmp_path):
    """docs/segmentation.md: an E2E checkpoint of resnet50-v1c_imagenet.py converted for
    deeplabv3_r50_repl_cityscapes.py loads there with no missing / unexpected backbone key."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(CONFIGS, 'resnet50-v1c_imagenet.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        state = _randomised(MODELS.build(cfg.model).state_dict())
    src, dst = tmp_path / 'e2e.pth', tmp_path / 'repl_init.pth'
    torch.save({'state_dict': state}, src)
    seg_config = osp.join(CONFIGS, 'deeplabv3_r50_repl_cityscapes.py')
    report = convert_checkpoint(str(src), str(dst), config=seg_config)
    assert sorted(report.dropped) == sorted(k for k in state
                                            if k.startswith('backbone.layer3.3.'))
    assert sorted(report.unused) == ['head.fc.bias', 'head.fc.weight']   # no seg counterpart
    out = torch.load(dst, weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in out)

    backbone, _ = build_repl_target(config=seg_config)
    missing, unexpected = backbone.load_state_dict(
        {k[len('backbone.'):]: v for k, v in out.items()}, strict=False)
    assert missing == [] and unexpected == []
    assert torch.equal(backbone.stem[0].weight, state['backbone.stem.0.weight'])
