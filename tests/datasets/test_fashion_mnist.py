"""Fashion-MNIST: the idx checks and layout of tools/dataset_converters/prepare_fashion_mnist.py,
mmpretrain's FashionMNIST reading what it writes, and the three evidence configs (issue 25).

Every file here is generated in the real idx format (no need for Debian's package)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

import repl_mm  # noqa: F401
from repl_mm.datasets.fashion_mnist import (
    FILES,
    IdxFileError,
    check_pair,
    prepare,
    read_idx_header,
    write_idx,
)
from repl_mm.testing.configs import MISSING, config_diff

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'prepare_fashion_mnist.py')
CONFIGS = {m: osp.join(ROOT, 'configs', f'cifar-resnet32{m}_fashion-mnist.py')
           for m in ('', '_repl', '_remove-only')}


def make_set(folder, n_train=12, n_test=6, gz=True, seed=0):
    """Writes the four idx files (labels i % 10, images with the label as pixel value)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (('train', n_train), ('test', n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = labels
        img_name, lbl_name = FILES[split]
        suffix = '.gz' if gz else ''
        write_idx(osp.join(folder, img_name + suffix), images)
        write_idx(osp.join(folder, lbl_name + suffix), labels, labels=True)
        arrays[split] = (images, labels)
    return arrays


def test_headers_and_layout_from_gz(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'data'
    arrays = make_set(str(src))
    assert read_idx_header(str(src / 'train-images-idx3-ubyte.gz')) == (2051, (12, 28, 28))
    assert read_idx_header(str(src / 't10k-labels-idx1-ubyte.gz')) == (2049, (6,))
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    counts = prepare(str(src), str(dst), log=lambda *_: None)
    assert counts == {'train': 12, 'test': 6}
    assert sorted(os.listdir(dst)) == sorted(n for pair in FILES.values() for n in pair)
    with open(dst / 'train-images-idx3-ubyte', 'rb') as f:
        raw = f.read()
    assert len(raw) == 16 + 12 * 28 * 28
    np.testing.assert_array_equal(np.frombuffer(raw[16:], np.uint8).reshape(12, 28, 28),
                                  arrays['train'][0])
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before  # originals untouched
    # a second run finds everything in place and writes nothing
    lines = []
    prepare(str(src), str(dst), log=lines.append)
    assert lines[:2] == ['warning: train: 12 images, the official release has 60000',
                         'warning: test: 6 images, the official release has 10000']
    assert len(lines) == 6 and all(line.endswith('up to date') for line in lines[2:])


def test_mmpretrain_reads_the_layout_with_the_configs_split_keys(tmp_path):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    src, dst = tmp_path / 'src', tmp_path / 'data'
    arrays = make_set(str(src), gz=False)
    prepare(str(src), str(dst), log=lambda *_: None)
    cfg = Config.fromfile(CONFIGS['_repl'])
    init_default_scope('mmpretrain')
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', 'test')):
        ds_cfg = cfg[loader].dataset.copy()
        ds_cfg.update(data_root=str(dst), pipeline=[])
        ds = DATASETS.build(ds_cfg)
        images, labels = arrays[split]
        assert len(ds) == len(labels)
        info = ds.get_data_info(3)
        np.testing.assert_array_equal(info['img'], images[3])
        assert int(info['gt_label']) == int(labels[3])
    assert ds.metainfo['classes'][0] == 'T-shirt/top'


@pytest.mark.parametrize('damage,match', [
    ('missing', r'1 of 4 files missing .*t10k-labels-idx1-ubyte\[\.gz\].*apt-get install'),
    ('swapped', r'magic number 2049, expected 2051'),
    ('truncated', r'train-images-idx3-ubyte: 9424 bytes, the header announces 9424|truncated'),
    ('count', r'train: 12 images .* but 11 labels'),
    ('label', r'label 12 outside 0-9'),
    ('size', r'images are 32x32'),
])
def test_bad_files_are_refused_naming_the_file(tmp_path, damage, match):
    src = tmp_path / 'src'
    make_set(str(src), gz=False)
    img, lbl = src / 'train-images-idx3-ubyte', src / 'train-labels-idx1-ubyte'
    if damage == 'missing':
        (src / 't10k-labels-idx1-ubyte').unlink()
    elif damage == 'swapped':
        img.write_bytes(lbl.read_bytes())
    elif damage == 'truncated':
        img.write_bytes(img.read_bytes()[:-10])
        match = r'train-images-idx3-ubyte: 9414 bytes, the header announces 9424'
    elif damage == 'count':
        write_idx(str(lbl), np.zeros(11, np.uint8), labels=True)
    elif damage == 'label':
        write_idx(str(lbl), np.full(12, 12, np.uint8), labels=True)
    elif damage == 'size':
        write_idx(str(img), np.zeros((12, 32, 32), np.uint8))
    with pytest.raises(IdxFileError, match=match):
        prepare(str(src), str(tmp_path / 'data'), log=lambda *_: None)
    assert not (tmp_path / 'data').exists() or not os.listdir(tmp_path / 'data')


def test_a_damaged_gzip_is_named(tmp_path):
    src = tmp_path / 'src'
    make_set(str(src))
    path = src / 'train-images-idx3-ubyte.gz'
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(IdxFileError, match='train-images-idx3-ubyte.gz: damaged gzip'):
        check_pair(str(path), str(src / 'train-labels-idx1-ubyte.gz'), 'train')


def test_existing_files_are_never_overwritten_without_force(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'data'
    make_set(str(src))
    prepare(str(src), str(dst), log=lambda *_: None)
    mine = dst / 't10k-images-idx3-ubyte'
    mine.write_bytes(b'my own file')
    with pytest.raises(IdxFileError, match='exists and differs.*--force'):
        prepare(str(src), str(dst), log=lambda *_: None)
    assert mine.read_bytes() == b'my own file'
    prepare(str(src), str(dst), force=True, log=lambda *_: None)
    assert read_idx_header(str(mine)) == (2051, (6, 28, 28))
    # a symlink in dst to a file of the user's is replaced, its target is not touched
    other = tmp_path / 'precious'
    other.write_bytes(b'keep')
    mine.unlink()
    mine.symlink_to(other)
    prepare(str(src), str(dst), force=True, log=lambda *_: None)
    assert other.read_bytes() == b'keep' and not mine.is_symlink()
    with pytest.raises(IdxFileError, match='is the source folder'):
        prepare(str(src), str(src), log=lambda *_: None)


def test_tool_one_line_without_the_data(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, TOOL, '--src', str(tmp_path / 'nowhere'),
                          '--dst', str(tmp_path / 'data')], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 1
    assert 'Traceback' not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and 'apt-get install dataset-fashion-mnist' in lines[0]
    src = tmp_path / 'src'
    make_set(str(src))
    out = subprocess.run([sys.executable, TOOL, '--src', str(src), '--dst',
                          str(tmp_path / 'data')], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert '12 training and 6 test images' in out.stdout


def test_configs_differ_in_one_key_each():
    e2e, repl, ro = (Config.fromfile(CONFIGS[m]) for m in ('', '_repl', '_remove-only'))
    assert config_diff(e2e, repl) == {
        'model.backbone.type': ('CifarResNet', 'CifarResNetRepL'),
        'model.backbone.interval': (MISSING, 4)}
    assert config_diff(repl, ro) == {'model.backbone.remove_only': (MISSING, True)}
    assert e2e.model.backbone.in_channels == 1 and e2e.data_preprocessor.mean == [72.94]
    assert e2e.val_dataloader.dataset.test_mode is True  # else mmpretrain reads the train set


def test_repl_config_trains_two_iterations(tmp_path):
    """The RepL config end to end through tools/train.py on a generated set (a few images)."""
    src, dst = tmp_path / 'src', tmp_path / 'data'
    make_set(str(src), n_train=8, n_test=4)
    prepare(str(src), str(dst), log=lambda *_: None)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), CONFIGS['_repl'],
         '--work-dir', str(tmp_path / 'work'), '--cfg-options',
         f'train_dataloader.dataset.data_root={dst}',
         f'val_dataloader.dataset.data_root={dst}', 'train_dataloader.batch_size=4',
         'train_cfg.max_epochs=1', 'param_scheduler.0.end=1'],
        capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert 'CifarResNetRepL: K=4, removed layer1.3, layer2.3, layer3.3 (3 of 15 blocks)' in log
    assert 'accuracy/top1' in log
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
