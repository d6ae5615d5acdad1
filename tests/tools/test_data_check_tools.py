"""Issue 29 through the real entry points: a config x a missing or wrong piece of its data,
each run as a user runs it (a subprocess in a fresh folder, so ``data/...`` is not there).

Every case must end within seconds (the check runs before torch and the toolboxes are
imported), with exit code 1, no traceback, one ``[data check]`` block naming the full path
and the fix; ``--check-data`` exits 0 when the data is in place; a 2-process
``tools/dist_train.sh`` launch prints the block once.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs')


def _run(cmd, cwd, timeout=180, **env):
    e = {k: v for k, v in os.environ.items()
         if k not in ('COCO_ROOT', 'WIKITEXT2_ROOT', 'SHAPES_ROOT', 'REPL_MM_SKIP_DATA_CHECK',
                      'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'SLURM_PROCID',
                      'OMPI_COMM_WORLD_RANK')}
    e.update(PYTHONPATH=ROOT, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='', **env)
    proc = subprocess.run(cmd, cwd=str(cwd), env=e, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def _tool(name):
    return [sys.executable, osp.join(ROOT, 'tools', name)]


def _touch(path, data=b'x'):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def _coco(tmp, task='instances', train_images=True):
    for split in ('train2017', 'val2017'):
        ann = dict(id=1, image_id=1, category_id=1)
        ann.update(bbox=[0, 0, 2, 2]) if task == 'instances' else ann.update(caption='a cat')
        data = dict(images=[dict(id=1, file_name='1.jpg', width=4, height=4)],
                    annotations=[ann])
        if task == 'instances':
            data['categories'] = [dict(id=1, name='person'), dict(id=2, name='car')]
        prefix = 'instances' if split == 'val2017' or task == 'instances' else task
        _touch(tmp / f'data/coco/annotations/{prefix}_{split}.json', json.dumps(data).encode())
        if train_images or split == 'val2017':
            _touch(tmp / f'data/coco/{split}/1.jpg')
    if task != 'instances':  # the user renamed a captions file into place
        os.replace(tmp / f'data/coco/annotations/{task}_train2017.json',
                   tmp / 'data/coco/annotations/instances_train2017.json')


def _cityscapes_polygons_only(tmp):
    for split in ('train', 'val'):
        _touch(tmp / f'data/cityscapes/leftImg8bit/{split}/ulm/ulm_000000_000019_leftImg8bit.png')
        _touch(tmp / f'data/cityscapes/gtFine/{split}/ulm/ulm_000000_000019_gtFine_polygons.json')


def _imagenet_flat_val(tmp):
    _touch(tmp / 'data/imagenet/val/ILSVRC2012_val_00000001.JPEG')


def _svhn_train_only(tmp):
    _touch(tmp / 'data/svhn/train_32x32.mat')


def _cifar10(tmp):
    for f in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch', 'batches.meta']:
        _touch(tmp / f'data/cifar10/cifar-10-batches-py/{f}')


def _stl10(tmp):
    for split in ('train', 'test'):
        for kind in ('X', 'y'):
            _touch(tmp / f'data/stl10/stl10_binary/{split}_{kind}.bin')


def _wikitext_raw(tmp):
    for s in ('train', 'valid', 'test'):
        _touch(tmp / f'data/wikitext-2/wiki.{s}.raw')


FASHION = '''
model = dict(type='ImageClassifier', head=dict(type='LinearClsHead', num_classes=10))
_ds = dict(type='FashionMNIST', data_root='data/fashion-mnist', download=False, pipeline=[])
train_dataloader = dict(batch_size=8, dataset=dict(_ds, split='train'))
val_dataloader = dict(batch_size=8, dataset=dict(_ds, split='test', test_mode=True))
test_dataloader = val_dataloader
'''
CUSTOM = '''
model = dict(type='ImageClassifier', head=dict(type='LinearClsHead', num_classes=5))
train_dataloader = dict(batch_size=8, dataset=dict(
    type='ClassBalancedDataset', oversample_thr=0.1,
    dataset=dict(type='CustomDataset', data_root='data/flowers', data_prefix='train')))
'''


def _fashion_train_only(tmp):
    (tmp / 'fashion.py').write_text(FASHION)
    _touch(tmp / 'data/fashion-mnist/train-images-idx3-ubyte')
    _touch(tmp / 'data/fashion-mnist/train-labels-idx1-ubyte')


def _custom_three_classes(tmp):
    (tmp / 'custom.py').write_text(CUSTOM)
    for c in ('daisy', 'rose', 'tulip'):
        _touch(tmp / f'data/flowers/train/{c}/1.jpg')


# (tool, config, prepare, extra args, what the message must name: the path and the fix)
CASES = {
    'coco-nothing': ('train.py', 'retinanet_r101_repl_coco.py', None, [],
                     ['{tmp}/data/coco/: the data_root folder does not exist',
                      'docs/detection.md', 'COCO_ROOT=/path/to/coco/',
                      'val_evaluator.ann_file=/path/to/coco/annotations/instances_val2017.json']),
    'coco-no-train-images': ('train.py', 'retinanet_r50_repl_coco.py',
                             lambda t: _coco(t, train_images=False), [],
                             ['{tmp}/data/coco/train2017/: folder not found',
                              'train_dataloader.dataset.data_prefix.img']),
    'coco-captions': ('train.py', 'retinanet_r50_coco.py', lambda t: _coco(t, 'captions'), [],
                      ['{tmp}/data/coco/annotations/instances_train2017.json: a COCO captions',
                       'docs/detection.md']),
    'coco-test-classes': ('test.py', 'retinanet_r50_repl_coco.py', _coco, ['ckpt.pth'],
                          ["CocoDataset has 80 classes but the model's num_classes is 3"],
                          ),
    'imagenet-nothing': ('test.py', 'resnet34_repl_imagenet.py', None, ['ckpt.pth'],
                         ['{tmp}/data/imagenet/: the data_root folder does not exist',
                          'docs/classification.md, section "ImageNet"',
                          'test_dataloader.dataset.data_root=/path/to/imagenet']),
    'imagenet-val-unlabelled': ('test.py', 'resnet34_imagenet.py', _imagenet_flat_val,
                                ['ckpt.pth'],
                                ['{tmp}/data/imagenet/val/: images without labels',
                                 'meta/val.txt']),
    'imagenet-meta-of-another-format': ('test.py', 'resnet50-v1c_repl_imagenet.py',
                                        lambda t: _touch(t / 'data/imagenet/meta/val.txt',
                                                         b'ILSVRC2012_val_00000001.JPEG\n'),
                                        ['ckpt.pth'],
                                        ['{tmp}/data/imagenet/meta/val.txt: lines must read '
                                         '"<image path> <class index>"']),
    'cityscapes-no-label-maps': ('train.py', 'deeplabv3_r50_repl_cityscapes.py',
                                 _cityscapes_polygons_only, [],
                                 ['{tmp}/data/cityscapes/gtFine/train/ulm/ulm_000000_000019_'
                                  'gtFine_labelTrainIds.png: 1 of 1 images have no label map',
                                  'prepare_cityscapes.py']),
    'stl10-nothing': ('train.py', 'cifar-resnet32_repl_stl10.py', None, [],
                      ['{tmp}/data/stl10/', 'stl10_binary/train_X.bin',
                       'docs/classification.md, section "STL-10"']),
    'svhn-no-test-file': ('train.py', 'vit-tiny-p8_repl_svhn.py', _svhn_train_only, [],
                          ['{tmp}/data/svhn/test_32x32.mat: not found',
                           'docs/classification.md, section "SVHN"']),
    'cifar10-nothing': ('train.py', 'cifar-resnet110_repl_cifar10.py', None, [],
                        ['{tmp}/data/cifar10/', 'cifar-10-batches-py/data_batch_1',
                         'docs/classification.md, section "CIFAR-10"']),
    'cifar10-head-classes': ('train.py', 'cifar-resnet32_cifar10.py', _cifar10,
                             ['--cfg-options', 'model.head.num_classes=100'],
                             ["CIFAR10 has 10 classes but the model's num_classes is 100"]),
    'wikitext2-raw-release': ('train.py', 'transformer-lm-12l_repl_wikitext2.py',
                              _wikitext_raw, [],
                              ['{tmp}/data/wikitext-2/wiki.train.tokens: not found, but '
                               'wiki.*.raw are', 'docs/language_model.md',
                               'WIKITEXT2_ROOT=/path/to/wikitext-2']),
    'fashion-mnist-test-files': ('train.py', '{tmp}/fashion.py', _fashion_train_only, [],
                                 ['{tmp}/data/fashion-mnist/t10k-images-idx3-ubyte: not found',
                                  'Fashion-MNIST']),
    'custom-dataset-classes': ('train.py', '{tmp}/custom.py', _custom_three_classes, [],
                               ["CustomDataset has 3 classes but the model's num_classes "
                                "is 5"]),
    'multi-seed-once': ('multi_seed.py', 'cifar-resnet32_repl_cifar10.py', None,
                        ['--seeds', '0', '1', '--work-dir', 'seeds'],
                        ['{tmp}/data/cifar10/: the data_root folder does not exist']),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_missing_or_wrong_data_is_a_few_lines(case, tmp_path):
    tool, config, prepare, extra, needles = CASES[case]
    if prepare is not None:
        prepare(tmp_path)
    config = config.format(tmp=tmp_path)
    if not osp.isabs(config):
        config = osp.join(CFG, config)
    if case == 'coco-test-classes':
        extra = extra + ['--cfg-options', 'model.bbox_head.num_classes=3']
    code, out = _run(_tool(tool) + [config] + extra, tmp_path)
    assert code == 1, out
    assert 'Traceback' not in out, out
    assert out.count('[data check]') == 1, out
    assert len(out.strip().splitlines()) <= 8, out
    assert 'check again without training: python tools/train.py' in out, out
    for needle in needles:
        assert needle.format(tmp=tmp_path) in out, (needle, out)
    if tool == 'multi_seed.py':  # no seed started
        assert not (tmp_path / 'seeds' / 'seed_0').exists()


def test_check_data_flag(tmp_path):
    """--check-data: exit 0 and one line when the data is in place, 1 with the block when
    not; it never trains (no work dir)."""
    _stl10(tmp_path)
    config = osp.join(CFG, 'cifar-resnet32_repl_stl10.py')
    code, out = _run(_tool('train.py') + [config, '--check-data'], tmp_path)
    assert code == 0 and 'is in place' in out and 'Traceback' not in out, out
    os.remove(tmp_path / 'data/stl10/stl10_binary/test_y.bin')
    code, out = _run(_tool('test.py') + [config, '--check-data'], tmp_path)
    assert code == 1 and f'{tmp_path}/data/stl10/stl10_binary/test_y.bin: not found' in out
    assert not (tmp_path / 'work_dirs').exists()


@pytest.mark.parametrize('launcher,args', [
    ('dist_train.sh', ['2']),
    ('dist_test.sh', ['ckpt.pth', '2']),
])
def test_two_process_launch_prints_once(launcher, args, tmp_path):
    """REPL_MM_ALLOW_CPU_DIST=1 tools/dist_train.sh CFG 2: the check runs once before
    torchrun starts a worker; exit 1, the block once, no torchrun report."""
    config = osp.join(CFG, 'retinanet_r101_repl_coco.py')
    code, out = _run(['bash', osp.join(ROOT, 'tools', launcher), config] + args, tmp_path,
                     REPL_MM_ALLOW_CPU_DIST='1')
    assert code == 1, out
    assert out.count('[data check]') == 1, out
    assert f'{tmp_path}/data/coco/: the data_root folder does not exist' in out
    assert 'Traceback' not in out and 'ChildFailedError' not in out, out


def test_launcher_check_data_stops_before_torchrun(tmp_path):
    _stl10(tmp_path)
    config = osp.join(CFG, 'cifar-resnet32_repl_stl10.py')
    code, out = _run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config, '2',
                      '--check-data'], tmp_path, REPL_MM_ALLOW_CPU_DIST='1')
    assert code == 0 and out.count('is in place') == 1, out
    assert 'torch.distributed' not in out and not (tmp_path / 'work_dirs').exists()


def test_benchmark_and_evidence_tools_check_first(tmp_path, capsys, monkeypatch):
    """The analysis tools that read data: benchmark.py with the LM config (the model reads
    wiki.train.tokens), benchmark_lm.py --vocab-from, evidence.py before it measures."""
    from repl_mm.testing.tools import load_tool
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('WIKITEXT2_ROOT', raising=False)
    lm = osp.join(CFG, 'transformer-lm-12l_repl_wikitext2.py')
    with pytest.raises(SystemExit) as e:
        load_tool('tools/analysis_tools/benchmark.py').main([lm, '--no-time'])
    err = capsys.readouterr().err
    assert e.value.code == 1 and f'{tmp_path}/data/wikitext-2/' in err, err
    assert 'model.vocab_from=/path/to/wikitext-2/wiki.train.tokens' in err
    with pytest.raises(SystemExit) as e:
        load_tool('tools/analysis_tools/benchmark_lm.py').main(['--vocab-from', 'w.tokens'])
    assert f'{tmp_path}/w.tokens: not found' in str(e.value)
    (tmp_path / 'bad.py').write_text(
        f"_base_ = {osp.join(CFG, 'cifar-resnet32_repl_svhn.py')!r}\n")
    with pytest.raises(SystemExit) as e:
        load_tool('tools/analysis_tools/evidence.py').main(
            ['--configs', str(tmp_path / 'bad.py'), '--work-dir', str(tmp_path / 'w')])
    err = capsys.readouterr().err
    assert e.value.code == 1 and f'{tmp_path}/data/svhn/' in err, err
    assert not (tmp_path / 'w').exists()  # nothing measured or trained


@pytest.mark.parametrize('launcher,args', [
    ('slurm_train.sh', ['part', 'job', '{cfg}', 'work']),
    ('slurm_test.sh', ['part', 'job', '{cfg}', 'ckpt.pth']),
])
def test_slurm_launch_checks_before_srun(launcher, args, tmp_path):
    """slurm_*.sh check on the submit node: missing data stops before srun queues a job;
    with REPL_MM_SKIP_DATA_CHECK=1 (a node without the data mount) srun is reached."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(f'#!/bin/sh\ntouch {tmp_path}/srun_called\n')
    (bin_dir / 'srun').chmod(0o755)
    cfg = osp.join(CFG, 'cifar-resnet32_repl_svhn.py')
    cmd = ['bash', osp.join(ROOT, 'tools', launcher)] + [a.format(cfg=cfg) for a in args]
    path = f'{bin_dir}:{os.environ["PATH"]}'
    code, out = _run(cmd, tmp_path, PATH=path)
    assert code == 1 and out.count('[data check]') == 1, out
    assert f'{tmp_path}/data/svhn/: the data_root folder does not exist' in out
    assert 'Traceback' not in out and not (tmp_path / 'srun_called').exists()
    code, out = _run(cmd, tmp_path, PATH=path, REPL_MM_SKIP_DATA_CHECK='1')
    assert code == 0 and (tmp_path / 'srun_called').exists(), out


def test_digits_check_data():
    """DigitsDataset (the evidence configs) reads scikit-learn's bundled digits: in place
    wherever sklearn is installed."""
    if __import__('importlib').util.find_spec('sklearn') is None:
        pytest.skip('scikit-learn not installed')
    config = osp.join(CFG, 'evidence', 'cifar-resnet32_repl_digits.py')
    code, out = _run(_tool('train.py') + [config, '--check-data'], ROOT)
    assert code == 0 and 'is in place' in out, out


def test_check_data_in_process(tmp_path, capsys, monkeypatch):
    """main([... '--check-data']) of tools/train.py and test.py (callers that import the
    tools): it checks and exits, never trains or tests."""
    from repl_mm.testing.tools import load_tool
    monkeypatch.chdir(tmp_path)
    config = osp.join(CFG, 'vit-tiny-p8_repl_stl10.py')
    for tool, args in (('train', []), ('test', ['ckpt.pth'])):
        with pytest.raises(SystemExit) as e:
            load_tool(f'tools/{tool}.py').main([config, *args, '--check-data'])
        assert e.value.code == 1
        assert f'{tmp_path}/data/stl10/: the data_root folder' in capsys.readouterr().err
    _stl10(tmp_path)
    with pytest.raises(SystemExit) as e:
        load_tool('tools/train.py').main([config, '--check-data'])
    assert e.value.code == 0 and 'is in place' in capsys.readouterr().out
    assert not (tmp_path / 'work_dirs').exists()
