"""Every RepL backbone logs, once when built, its removal plan and what it changes (issue 10,
item 6). Expected parameter counts come from eq. 42-47 / 50, not from the code under test."""
import re

from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from repl_mm.adapters import get_toolbox


def build_and_capture(tmp_path, scope, name, **cfg):
    log_file = tmp_path / f'{name}.log'
    logger = MMLogger.get_instance(f'repl_build_log_{name}', log_file=str(log_file))
    assert MMLogger.get_current_instance() is logger
    with DefaultScope.overwrite_default_scope(scope):
        get_toolbox(scope).registry.build(cfg)
    for h in logger.handlers:
        h.flush()
    return [line for line in log_file.read_text().splitlines() if 'RepL' in line]


def bottleneck_params(c, b):   # conv1 + bn, conv2 (3x3) + bn, conv3 + bn (eq. 46)
    return c * b + 2 * b + 9 * b * b + 2 * b + b * c + 2 * c


def test_resnet101_line(tmp_path):
    lines = build_and_capture(tmp_path, 'mmdet', 'r101', type='ResNetRepL', depth=101,
                              frozen_stages=-1)
    assert len(lines) == 1
    e2e = 42_500_160  # torchvision ResNet-101 (44,549,160) without its fc (2,049,000)
    repl = e2e - 5 * (bottleneck_params(1024, 256) - (2 * 256 + 2 * 1024))  # eq. 47
    assert repl == 36_927_040
    assert lines[0].endswith(
        'ResNetRepL: K=4, removed layer3.3, layer3.7, layer3.11, layer3.15, layer3.19 '
        f'(5 of 33 blocks), {e2e / 1e6:.2f}M -> {repl / 1e6:.2f}M trainable params')


def test_vit_and_cifar_and_stock_lines(tmp_path):
    vit = build_and_capture(tmp_path, 'mmpretrain', 'vit', type='VisionTransformerRepL',
                            arch='deit-small', img_size=224, patch_size=16,
                            replace_blocks=[3, 7], coefficients='shared')
    d = 384
    block = 12 * d * d + 13 * d  # eq. 49
    assert re.search(r'VisionTransformerRepL: replace_blocks=\[3, 7\], removed layers\.3, '
                     r"layers\.7 \(2 of 12 blocks\) \[coefficients='shared'\], "
                     r'(\d+\.\d\d)M -> (\d+\.\d\d)M trainable params$', vit[0])
    before, after = map(float, re.findall(r'(\d+\.\d\d)M', vit[0]))
    assert round(before - after, 2) == round((2 * block - 2 * 1) / 1e6, 2)  # eq. 50, shared
    cifar = build_and_capture(tmp_path, 'mmpretrain', 'cifar', type='CifarResNetRepL',
                              depth=32, remove_only=True)
    assert re.search(r'CifarResNetRepL: K=4, removed \(no computing layers: remove_only\) '
                     r'layer1\.3, layer2\.3, layer3\.3 \(3 of 15 blocks\), ', cifar[0])
    stock = build_and_capture(tmp_path, 'mmpretrain', 'stock', type='ResNetRepL', depth=18,
                              interval=None)
    assert stock[0].endswith('ResNetRepL: K=None, nothing removed: the stock backbone')
