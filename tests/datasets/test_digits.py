"""DigitsDataset (scikit-learn's handwritten digits at 32 px) and the evidence configs /
tool of docs/evidence.md."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import repl_mm  # noqa: F401
from repl_mm.datasets.digits import DigitsDataset, digits_split
from repl_mm.testing.tools import load_tool

sklearn_datasets = pytest.importorskip('sklearn.datasets')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EVIDENCE = osp.join(ROOT, 'configs', 'evidence')


def test_sizes_shapes_labels_and_pixels():
    train, test = DigitsDataset(split='train'), DigitsDataset(split='test')
    assert (len(train), len(test)) == (1438, 359)
    digits = sklearn_datasets.load_digits()
    for ds, offset in ((train, 0), (test, 1438)):
        labels = np.array([ds.get_data_info(i)['gt_label'] for i in range(len(ds))])
        assert set(labels) == set(range(10))
        np.testing.assert_array_equal(labels, digits.target[offset:offset + len(ds)])
        for i in (0, len(ds) - 1):
            img = ds.get_data_info(i)['img']
            assert img.shape == (32, 32, 3) and img.dtype == np.uint8
            assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
            want = np.rint(digits.images[offset + i] * 255 / 16).astype(np.uint8)
            np.testing.assert_array_equal(img[::4, ::4, 0], want)        # 4x4 blocks
            np.testing.assert_array_equal(img[3::4, 3::4, 0], want)
    assert train.metainfo['classes'] == tuple('0123456789')


def test_split_is_fixed_and_disjoint():
    tr, te = digits_split(1797, 0.2)
    assert len(tr) == 1438 and len(te) == 359 and tr[-1] + 1 == te[0]
    assert set(tr).isdisjoint(te) and len(set(tr) | set(te)) == 1797
    a, b = DigitsDataset(split='test'), DigitsDataset(split='test')
    for i in (0, 100, 358):
        np.testing.assert_array_equal(a.get_data_info(i)['img'], b.get_data_info(i)['img'])
    assert len(DigitsDataset(split='test', test_fraction=0.5)) == 898  # round(898.5)
    assert DigitsDataset(split='train', img_size=16).get_data_info(0)['img'].shape == \
        (16, 16, 3)


@pytest.mark.parametrize('kw,name', [(dict(split='val'), 'split'),
                                     (dict(img_size=30), 'img_size'),
                                     (dict(test_fraction=1.0), 'test_fraction')])
def test_bad_arguments_name_the_field(kw, name):
    with pytest.raises(ValueError, match=name):
        DigitsDataset(**kw)


def _configs():
    return sorted(glob.glob(osp.join(EVIDENCE, '*.py')))


def test_evidence_configs_build_and_differ_from_their_e2e_twin_only_in_the_backbone():
    from mmpretrain.registry import DATASETS, MODELS
    names = {osp.basename(p)[:-3] for p in _configs()}
    assert names == {'cifar-resnet32_digits', 'cifar-resnet32_repl_digits',
                     'cifar-resnet32_remove-only_digits', 'vit-tiny-p8_digits',
                     'vit-tiny-p8_repl_digits', 'vit-tiny-p8_skipat_digits',
                     'cifar-resnet32_repl-p25_digits', 'cifar-resnet32_repl-no-weights_digits',
                     'cifar-resnet32_repl-prev_digits', 'cifar-resnet32_repl-next_digits',
                     'cifar-resnet32_repl-shared_digits'}
    types = {}
    for path in _configs():
        cfg = Config.fromfile(path)
        assert cfg.default_scope == 'mmpretrain'
        twin = Config.fromfile(osp.join(EVIDENCE, osp.basename(path).split('_')[0]
                                        + '_digits.py'))
        a, b = cfg.to_dict(), twin.to_dict()
        a['model'].pop('backbone'), b['model'].pop('backbone')
        assert a == b, path
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = MODELS.build(cfg.model)
        types[osp.basename(path)[:-3]] = type(model.backbone).__name__
    assert types['cifar-resnet32_remove-only_digits'] == 'CifarResNetRepL'
    # the ablation variants differ from the RepL config only in the ablated argument
    repl = Config.fromfile(osp.join(EVIDENCE, 'cifar-resnet32_repl_digits.py')).model.backbone
    changed = {'p25': {'interval': None, 'replace_blocks': [[2], [2], [1, 3]]},
               'no-weights': {'coefficients': 'fixed'}, 'prev': {'neighbours': 'prev'},
               'next': {'neighbours': 'next'}, 'shared': {'coefficients': 'shared'}}
    for tag, diff in changed.items():
        b = Config.fromfile(osp.join(EVIDENCE, f'cifar-resnet32_repl-{tag}_digits.py'))
        assert b.model.backbone.to_dict() == dict(repl.to_dict(), **diff), tag
    assert types['vit-tiny-p8_skipat_digits'] == 'VisionTransformerSkipAt'
    cfg = Config.fromfile(osp.join(EVIDENCE, 'vit-tiny-p8_digits.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = DATASETS.build(cfg.train_dataloader.dataset)
    item = ds[0]
    assert item['inputs'].shape == (3, 32, 32) and len(ds) == 1438


def test_evidence_tool_measure_only_writes_its_section(tmp_path):
    tool = load_tool('tools/analysis_tools/evidence.py')
    out = tmp_path / 'evidence.md'
    out.write_text('# Evidence\n\nkept text\n')
    configs = [osp.join(EVIDENCE, 'cifar-resnet32_digits.py'),
               osp.join(EVIDENCE, 'cifar-resnet32_repl_digits.py')]
    argv = ['--measure-only', '--configs', *configs, '--batch-size', '2', '--reps', '1',
            '--warmup', '0', '--out', str(out), '--plot', str(tmp_path / 'e.png'),
            '--work-dir', str(tmp_path / 'w'), '--section', 'cost']
    res = tool.main(argv)
    e2e, repl = (res['cost'][c] for c in configs)
    # eq. 42: RepL drops 3 BasicBlocks (2 * 9 C^2 + 4C each, C = 16/32/64) and adds 4C each
    assert e2e['params'] - repl['params'] == sum(2 * 9 * c * c for c in (16, 32, 64))
    assert repl['activation_bytes'] < e2e['activation_bytes']
    text = out.read_text()
    assert 'kept text' in text and text.count('<!-- BEGIN evidence:cost -->') == 1
    tool.main(argv)                                   # replaces, does not duplicate
    assert out.read_text().count('<!-- BEGIN evidence:cost -->') == 1
    assert (tmp_path / 'e.png').stat().st_size > 0
