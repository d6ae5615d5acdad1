"""WikiText-2 for the language model of paper §IV-D1d: basic English tokenizer (torchtext's
rules), vocabulary (<unk>, <eos>, words with count >= 2), <eos> per line, BPTT batching, and
the errors for missing files and empty splits."""
import os.path as osp

import pytest
import torch

from repl_mm.datasets import WikiText2
from repl_mm.datasets.text import (
    basic_english_tokenize,
    batchify,
    bptt_windows,
    build_vocabulary,
    encode_lines,
    read_lines,
)
from repl_mm.models.transformer_lm import IGNORE_INDEX, LMDataPreprocessor


@pytest.mark.parametrize('line, tokens', [
    ('Hello, World!', ['hello', ',', 'world', '!']),
    # apostrophe -> " '  ", double quotes removed, brackets and full stop split off
    ('It\'s "quoted" (x).', ['it', "'", 's', 'quoted', '(', 'x', ')', '.']),
    # ; and : become spaces, <br /> a space, ? split off
    ('a;b:c<br />d?', ['a', 'b', 'c', 'd', '?']),
    # WikiText's own markers: @-@ stays, @,@ is split at the comma, <unk> survives lowercasing
    (' The @-@ 3 @,@ 000 <unk> . \n', ['the', '@-@', '3', '@', ',', '@', '000', '<unk>', '.']),
    ('TABS\tand\n\nNEWLINES  ', ['tabs', 'and', 'newlines']),
    ('', []),
    ('  = = Heading = =  ', ['=', '=', 'heading', '=', '=']),
    ('e.g.,3', ['e', '.', 'g', '.', ',', '3']),
    ('ÉCOLE', ['école']),
])
def test_basic_english_rules(line, tokens):
    assert basic_english_tokenize(line) == tokens


TEXT = (' = Title = \n'
        ' \n'
        ' the cat sat . the dog sat . \n'
        ' The cat ran <unk> \n')


def _write(path, text):
    path.write_text(text, encoding='utf-8')
    return str(path)


def test_vocabulary_rules(tmp_path):
    train = _write(tmp_path / 'train.txt', TEXT)
    vocab = build_vocabulary(train, min_freq=2)
    # specials first, then count >= 2 by descending count ('the': 3), ties in code-point
    # order ('.' < '=' < 'cat' < 'sat'); 'title', 'dog', 'ran' (count 1) are <unk>
    assert vocab.words == ('<unk>', '<eos>', 'the', '.', '=', 'cat', 'sat')
    assert vocab.lookup(['the', 'dog', '<unk>', 'sat', 'zebra']) == [2, 0, 0, 6, 0]
    assert len(build_vocabulary(train, min_freq=1)) == 2 + 8  # + title, dog, ran
    assert build_vocabulary(train, min_freq=3).words == ('<unk>', '<eos>', 'the')
    # the blank line adds nothing; each non-blank line ends with <eos> (id 1)
    lines = read_lines(train)
    assert len(lines) == 3
    stream = encode_lines(lines, vocab)
    assert stream.tolist() == [4, 0, 4, 1,
                               2, 5, 6, 3, 2, 0, 6, 3, 1,
                               2, 5, 0, 0, 1]
    assert vocab.digest != build_vocabulary(train, min_freq=1).digest
    with pytest.raises(ValueError, match='min_freq'):
        build_vocabulary(train, min_freq=0)


def test_batchify_and_bptt_windows():
    stream = torch.arange(23)
    rows = batchify(stream, 4)
    assert rows.shape == (4, 5)  # 23 // 4 = 5 tokens per stream, the last 3 dropped
    assert rows[1].tolist() == [5, 6, 7, 8, 9]
    windows = bptt_windows(5, 2)
    assert windows == [(0, 3), (2, 5)]
    # every token but a stream's first is a target exactly once
    targets = [t for a, b in windows for t in range(a + 1, b)]
    assert targets == [1, 2, 3, 4]
    assert bptt_windows(9, 4) == [(0, 5), (4, 9)]
    assert bptt_windows(10, 4) == [(0, 5), (4, 9), (8, 10)]
    with pytest.raises(ValueError, match='num_streams'):
        batchify(stream, 0)
    with pytest.raises(ValueError, match='seq_len'):
        bptt_windows(5, 0)


def make_corpus(root, train_lines=60, eval_lines=12):
    """wiki.{train,valid,test}.tokens with a small synthetic language."""
    import random
    rng = random.Random(0)
    nouns = ['cat', 'dog', 'bird', 'fish', 'horse', 'cow']
    verbs = ['sees', 'likes', 'chases', 'finds']

    def lines(n):
        out = [' = Title = ', '']
        for _ in range(n):
            out.append(f' the {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} '
                       f'. a {rng.choice(nouns)} , too . ')
        return '\n'.join(out) + '\n'

    root.mkdir(parents=True, exist_ok=True)
    for split, n in (('train', train_lines), ('valid', eval_lines), ('test', eval_lines)):
        (root / f'wiki.{split}.tokens').write_text(lines(n), encoding='utf-8')
    return str(root)


def test_dataset_windows_and_meta(tmp_path):
    root = make_corpus(tmp_path / 'wt2')
    ds = WikiText2(root, 'train', seq_len=8, num_streams=3)
    assert ds.file == osp.join(root, 'wiki.train.tokens')
    L = ds.streams.shape[1]
    assert ds.streams.shape == (3, ds.num_tokens // 3)
    n_windows = len(range(0, L - 1, 8))
    assert len(ds) == 3 * n_windows
    # item c*B + b is window c of stream b (the classic get_batch(c), column b)
    for idx in (0, 1, 2, 3, len(ds) - 1):
        c, b = divmod(idx, 3)
        start = c * 8
        expected = ds.streams[b, start:min(start + 8, L - 1) + 1]
        assert torch.equal(ds[idx]['inputs'], expected)
    assert sum(ds[i]['inputs'].numel() - 1 for i in range(len(ds))) == ds.num_targets \
        == 3 * (L - 1)
    meta = ds.metainfo
    assert meta['vocab'][:2] == ('<unk>', '<eos>') and meta['vocab_digest'] == ds.vocab.digest
    assert meta['num_targets'] == ds.num_targets
    # the vocabulary always comes from the training split
    val = WikiText2(root, 'val', seq_len=8, num_streams=2)
    assert val.split == 'valid' and val.vocab.words == ds.vocab.words
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_preprocessor_pads_windows():
    pre = LMDataPreprocessor()
    out = pre({'inputs': [torch.arange(6), torch.arange(10, 13)]})
    assert out['inputs'].shape == out['data_samples'].shape == (2, 5)
    assert out['inputs'][1].tolist() == [10, 11, 0, 0, 0]
    assert out['data_samples'][1].tolist() == [11, 12, IGNORE_INDEX, IGNORE_INDEX,
                                               IGNORE_INDEX]
    assert out['data_samples'][0].tolist() == [1, 2, 3, 4, 5]
    stacked = pre({'inputs': torch.arange(12).view(2, 6)})
    assert stacked['inputs'].shape == (2, 5)
    with pytest.raises(ValueError, match='>= 2 token ids'):
        pre({'inputs': [torch.arange(1)]})


def test_missing_file_and_empty_split_errors(tmp_path):
    root = tmp_path / 'wt2'
    make_corpus(root)
    (root / 'wiki.test.tokens').unlink()
    with pytest.raises(FileNotFoundError, match=r'wiki\.test\.tokens'):
        WikiText2(str(root), 'test')
    (root / 'wiki.valid.tokens').write_text(' \n\n \n', encoding='utf-8')
    with pytest.raises(ValueError, match=r'wiki\.valid\.tokens holds no token'):
        WikiText2(str(root), 'valid', num_streams=2)
    (root / 'wiki.train.tokens').write_text('\n', encoding='utf-8')
    with pytest.raises(ValueError, match=r'wiki\.train\.tokens holds no token'):
        WikiText2(str(root), 'train')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r'wiki\.train\.tokens'):
        WikiText2(str(empty), 'valid')
    make_corpus(tmp_path / 'ok', train_lines=1, eval_lines=1)
    with pytest.raises(ValueError, match='too few for num_streams=64'):
        WikiText2(str(tmp_path / 'ok'), 'valid', num_streams=64)
    with pytest.raises(ValueError, match='split must be one of'):
        WikiText2(str(tmp_path / 'ok'), 'dev')
