"""The WikiText-2 language model (paper §IV-D1d, Table X) end to end through our tools:
configs/transformer-lm-12l{,_repl}_wikitext2.py, shrunk with --cfg-options, train on a
generated corpus (tools/train.py) and lower the training loss; tools/test.py reports the test
perplexity, equal to an independent computation; the deploy checkpoint gives the same
perplexity; a checkpoint trained on another vocabulary is refused, naming the file."""
import math
import os
import os.path as osp
import random
import re

import pytest
import torch

from repl_mm.testing.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')



@pytest.fixture(autouse=True)
def one_thread():
    """The tiny models run 10x faster on one thread than on two on a loaded 2-core machine
    (OpenMP synchronisation dominates d=32 matrix products)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = {
    'model.num_layers': 5,  # K = 4 removes 0-based block 3
    'model.embed_dims': 32,
    'model.num_heads': 4,
    'model.feedforward_channels': 64,
    'model.drop_rate': 0.0,
    'train_dataloader.batch_size': 4,
    'train_dataloader.dataset.num_streams': 4,
    'train_dataloader.dataset.seq_len': 16,
    'val_dataloader.dataset.seq_len': 16,
    'test_dataloader.dataset.seq_len': 16,
    'train_dataloader.num_workers': 0,
    'val_dataloader.num_workers': 0,
    'test_dataloader.num_workers': 0,
    'train_cfg.max_epochs': 3,
    'optim_wrapper.type': 'OptimWrapper',  # fp32 on CPU (AmpOptimWrapper needs a GPU)
    'optim_wrapper.optimizer.lr': 3e-3,
    'default_hooks.logger.interval': 1,
    'randomness.seed': 0,
}


def make_corpus(root, seed=0, nouns=('cat', 'dog', 'bird', 'fish', 'horse', 'cow'),
                train_lines=60, eval_lines=15):
    """A small regular language in the wiki.*.tokens layout (heading and blank lines
    included, like WikiText)."""
    rng = random.Random(seed)
    verbs = ['sees', 'likes', 'chases', 'finds']

    def text(n):
        out = [' = Animals = ', '']
        for _ in range(n):
            out.append(f' the {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} '
                       f'. a {rng.choice(nouns)} , too . ')
        return '\n'.join(out) + '\n'

    root.mkdir(parents=True)
    for split, n in (('train', train_lines), ('valid', eval_lines), ('test', eval_lines)):
        (root / f'wiki.{split}.tokens').write_text(text(n), encoding='utf-8')
    return str(root)


def _tool(name):
    return load_tool(f'tools/{name}.py')


def _options(extra=None):
    opts = dict(TINY, **(extra or {}))
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def _manual_perplexity(config, checkpoint, extra_opts=None) -> float:
    """Test perplexity computed without the Runner, the metric or the data preprocessor."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS

    from repl_mm.datasets import WikiText2
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(TINY, **(extra_opts or {})))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    d = cfg.test_dataloader.dataset
    ds = WikiText2(d.data_root, 'test', seq_len=d.seq_len, num_streams=d.num_streams)
    rows = ds.streams  # (B, L): every token but each row's first is predicted once
    nll, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, rows.shape[1] - 1, d.seq_len):
            chunk = rows[:, start:start + d.seq_len + 1]
            logp = torch.log_softmax(model(chunk[:, :-1]).double(), -1)
            nll -= logp.gather(-1, chunk[:, 1:, None]).sum().item()
            count += chunk[:, 1:].numel()
    assert count == ds.num_targets
    return math.exp(nll / count)


@pytest.mark.parametrize('name', ['transformer-lm-12l_repl_wikitext2',
                                  'transformer-lm-12l_wikitext2'])
def test_train_test_and_deploy_through_the_tools(tmp_path, monkeypatch, name):
    from repl_mm.deploy import reparameterize_checkpoint
    from repl_mm.engine import safe_torch_load
    data_root = make_corpus(tmp_path / 'wikitext-2')
    monkeypatch.setenv('WIKITEXT2_ROOT', data_root)  # read by the configs
    config = osp.join(CONFIGS, name + '.py')
    work = str(tmp_path / 'work')

    runner = _tool('train').main([config, '--work-dir', work] + _options())
    model = runner.model
    assert model.num_layers == 5 and model.embed_dims == 32
    repl = name.endswith('repl_wikitext2')
    assert getattr(model, 'removed_blocks', []) == ([3] if repl else [])
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == runner.iter >= 30  # one loss per iteration
    # from about ln(V) at the start to clearly lower after three epochs
    assert losses[0] > 0.9 * math.log(model.vocab_size)
    assert sum(losses[-5:]) / 5 < 0.7 * losses[0]
    ckpt = osp.join(work, 'epoch_3.pth')
    assert osp.isfile(ckpt)
    meta = safe_torch_load(ckpt, map_location='cpu')['meta']  # weights_only + allowlist
    assert meta['dataset_meta']['vocab'][:2] == ('<unk>', '<eos>')
    assert len(meta['dataset_meta']['vocab']) == model.vocab_size

    metrics = _tool('test').main([config, ckpt, '--work-dir', str(tmp_path / 'test')]
                                 + _options())
    ppl = metrics['lm/perplexity']
    assert ppl == pytest.approx(math.exp(metrics['lm/nll']), rel=1e-9)
    assert 1.0 < ppl < model.vocab_size  # better than uniform guessing
    assert ppl == pytest.approx(_manual_perplexity(config, ckpt), rel=1e-6)

    if repl:  # the deploy checkpoint (eq. 33) gives the same perplexity through the tool
        deploy_ckpt = str(tmp_path / 'deploy.pth')
        reparameterize_checkpoint(config, ckpt, deploy_ckpt, cfg_options=dict(TINY))
        deploy_metrics = _tool('test').main(
            [config, deploy_ckpt, '--work-dir', str(tmp_path / 'test_deploy')]
            + _options({'model.deploy': True}))
        assert deploy_metrics['lm/perplexity'] == pytest.approx(ppl, rel=1e-5)


def test_checkpoint_with_another_vocabulary_is_refused(tmp_path, monkeypatch):
    from repl_mm.evaluation import VocabularyMismatchError
    config = osp.join(CONFIGS, 'transformer-lm-12l_wikitext2.py')
    first = make_corpus(tmp_path / 'a')
    monkeypatch.setenv('WIKITEXT2_ROOT', first)
    work = str(tmp_path / 'work')
    _tool('train').main([config, '--work-dir', work, '--no-validate']
                        + _options({'train_cfg.max_epochs': 1}))
    ckpt = osp.join(work, 'epoch_1.pth')
    # other words, same vocabulary size: the token ids would silently mean other words
    other = make_corpus(tmp_path / 'b', nouns=('ant', 'bee', 'elk', 'owl', 'ram', 'yak'))
    monkeypatch.setenv('WIKITEXT2_ROOT', other)
    with pytest.raises(VocabularyMismatchError) as err:
        _tool('test').main([config, ckpt, '--work-dir', str(tmp_path / 't')] + _options())
    assert ckpt in str(err.value) and osp.join(other, 'wiki.train.tokens') in str(err.value)


def test_repl_config_changes_only_the_model_type_and_interval(tmp_path, monkeypatch):
    from mmengine.config import Config
    monkeypatch.setenv('WIKITEXT2_ROOT', str(tmp_path / 'wt2'))
    e2e = Config.fromfile(osp.join(CONFIGS, 'transformer-lm-12l_wikitext2.py')).to_dict()
    repl = Config.fromfile(osp.join(CONFIGS, 'transformer-lm-12l_repl_wikitext2.py')).to_dict()
    assert repl['model'] == dict(e2e['model'], type='TransformerLMRepL', interval=4)
    assert {k: v for k, v in repl.items() if k != 'model'} == \
        {k: v for k, v in e2e.items() if k != 'model'}
    # the paper's recipe (Table X)
    assert e2e['train_dataloader']['batch_size'] == 64
    assert e2e['train_dataloader']['dataset']['num_streams'] == 64
    assert {e2e[f'{s}_dataloader']['dataset']['seq_len'] for s in ('train', 'val', 'test')} \
        == {128}
    assert e2e['optim_wrapper']['type'] == 'AmpOptimWrapper'
    assert e2e['optim_wrapper']['optimizer'] == dict(type='AdamW', lr=3e-4, weight_decay=0.01,
                                                     betas=(0.9, 0.999), eps=1e-8)
    assert e2e['optim_wrapper']['clip_grad'] == dict(max_norm=1.0)
    assert e2e['train_cfg']['max_epochs'] == 20
    assert e2e['model']['vocab_from'] == str(tmp_path / 'wt2') + '/wiki.train.tokens'
    assert e2e['train_dataloader']['dataset']['data_root'] == str(tmp_path / 'wt2')


def test_checkpoint_without_vocabulary_and_model_of_another_size_are_refused(tmp_path,
                                                                            monkeypatch):
    from repl_mm.engine import safe_torch_load
    from repl_mm.evaluation import VocabularyMismatchError
    config = osp.join(CONFIGS, 'transformer-lm-12l_wikitext2.py')
    root = make_corpus(tmp_path / 'wt2')
    monkeypatch.setenv('WIKITEXT2_ROOT', root)
    train_file = osp.join(root, 'wiki.train.tokens')
    # a model sized by hand for another vocabulary: refused before the first iteration
    with pytest.raises(VocabularyMismatchError, match=r'model\.vocab_size=99 .*' +
                       train_file.replace('.', r'\.')):
        _tool('train').main([config, '--work-dir', str(tmp_path / 'w0'), '--no-validate']
                            + _options({'model.vocab_from': None, 'model.vocab_size': 99}))
    work = str(tmp_path / 'work')
    _tool('train').main([config, '--work-dir', work, '--no-validate']
                        + _options({'train_cfg.max_epochs': 1}))
    ckpt = safe_torch_load(osp.join(work, 'epoch_1.pth'), map_location='cpu')
    del ckpt['state_dict']['vocab_digest']
    stripped = str(tmp_path / 'stripped.pth')
    torch.save(ckpt, stripped)
    with pytest.raises(VocabularyMismatchError, match='stripped.pth records no vocabulary'):
        _tool('test').main([config, stripped, '--work-dir', str(tmp_path / 't')] + _options())


def test_resume_and_checkpoint_form_through_the_tools(tmp_path, monkeypatch):
    config = osp.join(CONFIGS, 'transformer-lm-12l_repl_wikitext2.py')
    monkeypatch.setenv('WIKITEXT2_ROOT', make_corpus(tmp_path / 'wt2'))
    work = str(tmp_path / 'work')
    _tool('train').main([config, '--work-dir', work, '--no-validate']
                        + _options({'train_cfg.max_epochs': 1}))
    first = os.stat(osp.join(work, 'epoch_1.pth')).st_mtime_ns
    runner = _tool('train').main([config, '--work-dir', work, '--no-validate', '--resume']
                                 + _options({'train_cfg.max_epochs': 2}))
    assert runner.epoch == 2 and runner.iter == 2 * 12  # 12 windows of 4 streams per epoch
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    # epoch 1 was resumed, not trained (and saved) again
    assert os.stat(osp.join(work, 'epoch_1.pth')).st_mtime_ns == first

    # a training-form checkpoint into the deploy form (or into the E2E model) is refused,
    # not loaded non-strictly with randomly initialised folded layers
    # (tools/test.py exits with the error naming the checkpoint)
    ckpt = osp.join(work, 'epoch_2.pth')
    with pytest.raises(SystemExit) as e:
        _tool('test').main([config, ckpt, '--work-dir', str(tmp_path / 't')]
                           + _options({'model.deploy': True}))
    assert re.search(r'epoch_2\.pth does not fit the model TransformerLMRepL \(deploy=True\)'
                     r'.*layers\.3\.synthesis', str(e.value.code))
    e2e_config = osp.join(CONFIGS, 'transformer-lm-12l_wikitext2.py')
    with pytest.raises(SystemExit) as e:
        _tool('test').main([e2e_config, ckpt, '--work-dir', str(tmp_path / 't2')] + _options())
    assert 'model TransformerLM: missing keys' in str(e.value.code)
