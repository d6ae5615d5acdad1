"""repl_mm/datasets/check.py in process: what each dataset type needs, and the message.

The module is loaded by path (as the tools do), so these tests import neither torch nor a
toolbox; each builds the smallest layout on disk and checks one piece missing or wrong.
"""
import json
import os
import os.path as osp
import runpy
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHECK = runpy.run_path(osp.join(ROOT, 'repl_mm', 'datasets', 'check.py'))
check_cfg, format_problems = CHECK['check_cfg'], CHECK['format_problems']


def _problems(cfg, scope='all'):
    return [p for p in check_cfg(cfg, scope) if p.kind != 'ok']


def _touch(path, data=b'x'):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def _loaders(train, val=None, **extra):
    cfg = dict(train_dataloader=dict(dataset=train),
               val_dataloader=dict(dataset=val or train), **extra)
    cfg['test_dataloader'] = cfg['val_dataloader']
    return cfg


def _coco_json(path, task='instances', n_cats=80, names=None, file_name='a.jpg'):
    names = names or (['person', 'bicycle', 'car'] + [f'c{i}' for i in range(n_cats - 3)])
    ann = dict(id=1, image_id=1, category_id=1)
    if task == 'instances':
        ann['bbox'] = [0, 0, 4, 4]
    elif task == 'captions':
        ann['caption'] = 'a dog'
    elif task == 'keypoints':
        ann.update(bbox=[0, 0, 4, 4], keypoints=[1, 1, 2] * 17, num_keypoints=17)
    data = dict(images=[dict(id=1, file_name=file_name, width=8, height=8)],
                annotations=[ann])
    if task != 'captions':
        data['categories'] = [dict(id=i + 1, name=n) for i, n in enumerate(names)]
    return _touch(path, json.dumps(data).encode())


def _coco_cfg(root, num_classes=80, **ds):
    train = dict(type='CocoDataset', data_root=root, ann_file='annotations/train.json',
                 data_prefix=dict(img='train/'), **ds)
    val = dict(type='CocoDataset', data_root=root, ann_file='annotations/val.json',
               data_prefix=dict(img='val/'), **ds)
    return _loaders(train, val, model=dict(bbox_head=dict(num_classes=num_classes)),
                    val_evaluator=dict(type='CocoMetric', ann_file=root + 'annotations/val.json'))


@pytest.fixture
def coco(tmp_path):
    root = str(tmp_path / 'coco') + '/'
    for split in ('train', 'val'):
        _coco_json(f'{root}annotations/{split}.json')
        _touch(f'{root}{split}/a.jpg')
    return root


def test_coco_complete_passes_and_each_piece_is_named(coco, tmp_path):
    assert _problems(_coco_cfg(coco)) == []
    os.remove(coco + 'annotations/train.json')
    [p] = _problems(_coco_cfg(coco))
    assert (p.kind, p.path) == ('missing', coco + 'annotations/train.json')
    assert ('train_dataloader.dataset.ann_file', 'annotations/train.json') in p.keys


def test_coco_missing_root_is_one_block_with_every_key(tmp_path):
    root = str(tmp_path / 'nowhere') + '/'
    problems = check_cfg(_coco_cfg(root), 'train')
    text = format_problems(problems, 'cfg.py')
    lines = text.splitlines()
    assert len(lines) <= 7 and text.count('[data check]') == 1, text
    assert f'missing: {root}: the data_root folder does not exist' in text
    # the evaluator's file under the missing root is not listed again
    assert 'instances' not in text and 'annotations/val.json: not found' not in text
    for key in ('train_dataloader.dataset.data_root=/path/to/nowhere/',
                'val_dataloader.dataset.data_root=/path/to/nowhere/',
                'test_dataloader.dataset.data_root=/path/to/nowhere/',
                'val_evaluator.ann_file=/path/to/nowhere/annotations/val.json'):
        assert key in text, (key, text)
    assert 'docs/detection.md' in text and 'python tools/train.py cfg.py --check-data' in text


@pytest.mark.parametrize('case,needle', [
    ('captions', 'captions'),
    ('keypoints', 'a COCO keypoints file'),
    ('empty_dir', 'the folder is empty'),
    ('other_images', 'image named in train.json not found'),
    ('classes', "has 80 classes but the model's num_classes is 3"),
    ('not_json', 'not a COCO json'),
])
def test_coco_wrong(coco, case, needle):
    cfg = _coco_cfg(coco)
    if case in ('captions', 'keypoints'):
        _coco_json(coco + 'annotations/train.json', task=case, names=['person'])
    elif case == 'empty_dir':
        os.remove(coco + 'train/a.jpg')
    elif case == 'other_images':
        _coco_json(coco + 'annotations/train.json', file_name='b.jpg')
    elif case == 'classes':
        cfg = _coco_cfg(coco, num_classes=3)
    else:
        _touch(coco + 'annotations/train.json', b'not json')
    text = format_problems(check_cfg(cfg, 'train'), 'cfg.py')
    assert needle in text, text
    if case == 'classes':
        assert 'does not fit the model' in text and len(text.splitlines()) == 3
        assert 'fix: --cfg-options model.bbox_head.num_classes=80 ' in text
    else:
        assert 'not usable' in text


def test_coco_metainfo_classes(coco):
    ok = _coco_cfg(coco, num_classes=2, metainfo=dict(classes=('person', 'car')))
    assert _problems(ok) == []
    bad = _coco_cfg(coco, num_classes=2, metainfo=dict(classes=('rectangle', 'ellipse')))
    assert any('none of metainfo.classes' in p.what for p in _problems(bad))


def test_coco_large_file_is_sampled(coco):
    """Over the full-parse limit only the head and tail are read (instances_train2017.json
    is 450 MB): categories, the task and the first file names still come out."""
    s = CHECK['_coco_summary'](coco + 'annotations/train.json', full_limit=10)
    assert s['task'] == '' and s['file_names'] == ['a.jpg'] and len(s['categories']) == 80
    for task in ('captions', 'keypoints'):
        _coco_json(coco + f'annotations/{task}.json', task=task)
        assert CHECK['_coco_summary'](coco + f'annotations/{task}.json',
                                      full_limit=10)['task'] == task


def _city(root, labels=True):
    for split in ('train', 'val'):
        _touch(f'{root}/leftImg8bit/{split}/aachen/aachen_000000_000019_leftImg8bit.png')
        _touch(f'{root}/gtFine/{split}/aachen/aachen_000000_000019_gtFine_polygons.json')
        if labels:
            _touch(f'{root}/gtFine/{split}/aachen/aachen_000000_000019_gtFine_labelTrainIds.png')


def _city_cfg(root, num_classes=19):
    return _loaders(*[dict(type='CityscapesDataset', data_root=root,
                           data_prefix=dict(img_path=f'leftImg8bit/{s}',
                                            seg_map_path=f'gtFine/{s}')) for s in ('train', 'val')],
                    model=dict(decode_head=dict(num_classes=num_classes)))


def test_cityscapes(tmp_path):
    root = str(tmp_path / 'cityscapes')
    _city(root)
    assert _problems(_city_cfg(root)) == []
    assert "num_classes is 20" in format_problems(check_cfg(_city_cfg(root, 20)), 'c.py')
    # an image list (ann_file) names the images; a data_prefix without seg_map_path: no labels
    _touch(f'{root}/val.txt', b'aachen/aachen_000000_000019\n')
    cfg = _city_cfg(root)
    cfg['val_dataloader']['dataset']['ann_file'] = 'val.txt'
    assert _problems(cfg) == []
    _touch(f'{root}/val.txt', b'aachen/aachen_000000_000020\n')
    assert 'images listed in val.txt not found' in _problems(cfg, 'train')[0].what
    unlabelled = dict(type='CityscapesDataset', data_root=root,
                      data_prefix=dict(img_path='leftImg8bit/val'))
    assert _problems(_loaders(unlabelled)) == []
    _city(str(tmp_path / 'raw'), labels=False)
    text = format_problems(check_cfg(_city_cfg(str(tmp_path / 'raw')), 'train'), 'c.py')
    assert 'aachen_000000_000019_gtFine_labelTrainIds.png: 1 of 1 images have no label map' \
        in text and 'prepare_cityscapes.py' in text, text


def _imagenet_cfg(root, **kw):
    return _loaders(*[dict(type='ImageNet', data_root=root, split=s, **kw)
                      for s in ('train', 'val')], model=dict(head=dict(num_classes=1000)))


def test_imagenet_folder_and_ann_file_forms(tmp_path):
    root = str(tmp_path / 'imagenet')
    for i in range(1000):
        os.makedirs(f'{root}/train/n{i:08d}')
    _touch(f'{root}/train/n00000000/a.JPEG')
    _touch(f'{root}/val/ILSVRC2012_val_00000001.JPEG')
    # val: a flat folder without meta/val.txt -- images without labels
    [p] = _problems(_imagenet_cfg(root), 'train')
    assert p.path == f'{root}/val/' and 'images without labels' in p.what
    assert 'meta/val.txt' in p.what
    _touch(f'{root}/meta/val.txt', b'ILSVRC2012_val_00000001.JPEG 65\n')
    assert _problems(_imagenet_cfg(root), 'train') == []
    _touch(f'{root}/meta/val.txt', b'ILSVRC2012_val_00000001.JPEG\n')  # no label column
    assert 'lines must read' in _problems(_imagenet_cfg(root), 'train')[0].what
    _touch(f'{root}/meta/val.txt', b'ILSVRC2012_val_00000001.JPEG 1000\n')
    assert 'class index 1000' in _problems(_imagenet_cfg(root), 'train')[0].what
    _touch(f'{root}/meta/val.txt', b'other/x.JPEG 1\n')
    assert 'not found' in _problems(_imagenet_cfg(root), 'train')[0].what
    os.rmdir(f'{root}/train/n00000999')
    assert any('999 class folders' in p.what for p in _problems(_imagenet_cfg(root), 'train'))


def test_custom_dataset_class_folders_vs_head(tmp_path):
    root = str(tmp_path / 'flowers')
    for c in ('a', 'b', 'c'):
        _touch(f'{root}/train/{c}/1.jpg')
    ds = dict(type='mmpretrain.CustomDataset', data_root=root, data_prefix='train')
    cfg = _loaders(ds, model=dict(head=dict(num_classes=3)))
    assert _problems(cfg) == []
    cfg['model']['head']['num_classes'] = 5
    [p] = _problems(cfg, 'train')[:1]
    assert 'has 3 classes' in p.what and 'num_classes is 5' in p.what
    os.makedirs(f'{root}/empty')
    cfg = _loaders(dict(ds, data_prefix='empty'))
    assert _problems(cfg)[0].what == 'the folder is empty'


def test_cifar_mnist_svhn_stl10(tmp_path):
    root = str(tmp_path)
    cifar = dict(type='CIFAR10', data_root=f'{root}/cifar10', split='train', download=False)
    [*ps] = _problems(_loaders(cifar))
    assert ps[0].path == f'{root}/cifar10/' and ps[0].kind == 'missing'
    for f in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch', 'batches.meta']:
        _touch(f'{root}/cifar10/cifar-10-batches-py/{f}')
    assert _problems(_loaders(cifar, model=dict(head=dict(num_classes=10)))) == []
    assert _problems(_loaders(dict(cifar, download=True, data_root=f'{root}/x'))) == []

    fm = dict(type='FashionMNIST', data_root=f'{root}/fashion-mnist', download=False)
    _touch(f'{root}/fashion-mnist/train-images-idx3-ubyte')
    missing = {p.path for p in _problems(_loaders(dict(fm, split='train')))}
    assert missing == {f'{root}/fashion-mnist/{f}' for f in (
        'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')}
    for f in CHECK['MNIST_FILES']:
        _touch(f'{root}/fashion-mnist/{f}')
    train = dict(fm, split='train')
    assert _problems(_loaders(train, dict(fm, split='test', test_mode=True))) == []
    # mmpretrain 1.2.0 picks MNIST files by test_mode: split='test' alone reads train files
    [p] = _problems(_loaders(train, dict(fm, split='test')), 'train')
    assert 'TRAINING files' in p.what and 'val_dataloader.dataset.test_mode=True' in p.what

    svhn = dict(type='SVHN', data_root=f'{root}/svhn', split='test')
    _touch(f'{root}/svhn/train_32x32.mat')
    [p] = _problems(_loaders(dict(svhn, split='train'), svhn), 'train')
    assert p.path == f'{root}/svhn/test_32x32.mat'
    _touch(f'{root}/svhn/test_32x32.mat', b'')
    assert _problems(_loaders(svhn))[0].what == 'the file is empty'

    stl = dict(type='STL10', data_root=f'{root}/stl10', split='train')
    _touch(f'{root}/stl10/stl10_binary/train_X.bin')
    assert {p.path for p in _problems(_loaders(stl))} == {
        f'{root}/stl10/stl10_binary/train_y.bin'}


def test_wikitext2_raw_release_and_vocab(tmp_path):
    root = str(tmp_path / 'wikitext-2')
    ds = dict(type='WikiText2', data_root=root, split='valid')
    cfg = _loaders(ds, model=dict(type='TransformerLM', vocab_from=root + '/wiki.train.tokens'))
    for s in ('train', 'valid', 'test'):
        _touch(f'{root}/wiki.{s}.raw')
    text = format_problems(check_cfg(cfg, 'train'), 'lm.py')
    assert 'raw release' in text and f'{root}/wiki.train.tokens' in text
    assert 'model.vocab_from=/path/to/wikitext-2/wiki.train.tokens' in text
    for s in ('train', 'valid', 'test'):
        _touch(f'{root}/wiki.{s}.tokens')
    assert _problems(cfg) == []


def test_digits_needs_sklearn(monkeypatch):
    cfg = _loaders(dict(type='DigitsDataset', split='train'))
    monkeypatch.setitem(CHECK['_check_digits'].__globals__, 'find_spec', lambda name: None)
    [p] = _problems(cfg, 'train')[:1]
    assert 'sklearn is not installed' in p.what
    assert 'pip install scikit-learn' in format_problems([p], 'd.py')


def test_wrappers_and_unknown_types(tmp_path):
    svhn = dict(type='SVHN', data_root=str(tmp_path / 'svhn'), split='train')
    wrapped = dict(type='ConcatDataset', datasets=[
        dict(type='RepeatDataset', times=2, dataset=svhn),
        dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=dict(svhn, split='test')),
        dict(type='SomethingElse', data_root=str(tmp_path / 'whatever'))])
    problems = _problems(_loaders(wrapped), 'train')
    keys = {k for p in problems for k, _ in p.keys}
    assert keys == {'train_dataloader.dataset.datasets.0.dataset.data_root',
                    'train_dataloader.dataset.datasets.1.dataset.data_root',
                    'val_dataloader.dataset.datasets.0.dataset.data_root',
                    'val_dataloader.dataset.datasets.1.dataset.data_root'}
    # non-local data is not checked here (no refusal of what this check cannot see)
    remote = dict(svhn, data_root='s3://bucket/svhn')
    assert _problems(_loaders(remote)) == []


def test_scope_and_no_validate(tmp_path):
    train = dict(type='SVHN', data_root=str(tmp_path / 'a'), split='train')
    val = dict(type='SVHN', data_root=str(tmp_path / 'b'), split='test')
    cfg = _loaders(train, val)
    roots = lambda scope, nv=False: {p.root for p in check_cfg(cfg, scope, nv)  # noqa: E731
                                     if p.kind != 'ok'}
    assert roots('train') == {train['data_root'], val['data_root']}
    assert roots('train', True) == {train['data_root']}
    assert roots('test') == {val['data_root']}


def test_runs_without_torch_or_toolboxes(tmp_path):
    """The launchers run the check before any heavy import: running the file by path must
    not import torch or a toolbox."""
    import subprocess
    code = ('import runpy, sys; m = runpy.run_path(sys.argv[1]); '
            'm["run"]("train", [sys.argv[2]]); '
            'print(sorted(k for k in ("torch", "mmdet", "mmseg", "mmpretrain", "mmcv") '
            'if k in sys.modules))')
    cfg = tmp_path / 'c.py'
    cfg.write_text(f"train_dataloader = dict(dataset=dict(type='SVHN', data_root="
                   f"'{tmp_path}/svhn', split='train'))\n")
    out = subprocess.run([sys.executable, '-c', code,
                          osp.join(ROOT, 'repl_mm', 'datasets', 'check.py'), str(cfg)],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == '[]', out
    assert f'{tmp_path}/svhn/' in out.stderr


def test_file_lists_match_the_dataset_classes():
    """check.py hard-codes the files SVHN / STL10 / WikiText2 read (it must not import
    mmpretrain); they must stay those of the classes."""
    pytest.importorskip('mmpretrain')
    from repl_mm.datasets import STL10, SVHN, WikiText2
    for split in ('train', 'test'):
        svhn, stl = object.__new__(SVHN), object.__new__(STL10)
        svhn.split = stl.split = split
        assert svhn._files() == [CHECK['SVHN_FILE'].format(split)]
        assert stl._files() == [f.format(split) for f in CHECK['STL10_FILES']]
    assert WikiText2.FILE == CHECK['WIKITEXT2_FILE']


def test_skip_switch_and_unreadable_input(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / 'c.py'
    cfg.write_text(f"train_dataloader = dict(dataset=dict(type='SVHN', data_root="
                   f"'{tmp_path}/svhn', split='train'))\n")
    assert CHECK['run']('train', [str(cfg)]) == 1
    # options before the config (their values are not the config)
    assert CHECK['run']('train', ['--work-dir', 'w', '--resume', 'x.pth', str(cfg)]) == 1
    with pytest.raises(SystemExit) as e:
        CHECK['precheck']('multi_seed', ['--seeds', '0', '1', '--nproc', '2', str(cfg)])
    assert e.value.code == 1
    monkeypatch.setenv('REPL_MM_SKIP_DATA_CHECK', '1')
    assert CHECK['run']('train', [str(cfg)]) is None
    monkeypatch.delenv('REPL_MM_SKIP_DATA_CHECK')
    # a command line or config the check cannot read is left to the tool ...
    assert CHECK['run']('train', ['--work-dir']) is None
    assert CHECK['run']('train', [str(tmp_path / 'missing.py')]) is None
    # ... except with --check-data, which must never go on to train
    assert CHECK['run']('train', [str(tmp_path / 'missing.py'), '--check-data']) == 1
    # other ranks stay quiet (rank 0 prints), all stop
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setitem(CHECK['report'].__globals__, 'time', type('T', (), {
        'sleep': staticmethod(lambda s: None)}))
    capsys.readouterr()
    assert CHECK['run']('train', [str(cfg)]) == 1
    assert capsys.readouterr().err == ''
