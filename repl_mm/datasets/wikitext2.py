"""WikiText-2 for word-level language modelling (paper §IV-D1d, Table X).

Reads the standard word-level release (``wikitext-2/wiki.{train,valid,test}.tokens``, as
unzipped from ``wikitext-2-v1.zip``) with the tokenizer, vocabulary and BPTT batching of
:mod:`repl_mm.datasets.text`. Registered in mmpretrain's ``DATASETS``.

Item ``i`` is window ``c = i // B`` of stream ``b = i % B`` (``B = num_streams``), as a dict
``{'inputs': LongTensor(T + 1)}`` holding ``T <= seq_len`` inputs plus one: the model predicts
``inputs[1:]`` from ``inputs[:-1]``. With an unshuffled sampler and ``batch_size ==
num_streams`` batch ``c`` is exactly the classic ``get_batch(c)`` of the batchified split; any
other sampler or batch size also works (the LM data preprocessor pads).
"""
import os.path as osp
from typing import Dict

import torch
from mmpretrain.registry import DATASETS
from torch.utils.data import Dataset

from .text import Vocabulary, batchify, bptt_windows, build_vocabulary, encode_lines, read_lines

__all__ = ['WikiText2']


@DATASETS.register_module()
class WikiText2(Dataset):
    """WikiText-2, word level, BPTT windows.

    Args:
        data_root (str): the folder holding ``wiki.train.tokens``, ``wiki.valid.tokens`` and
            ``wiki.test.tokens``.
        split (str): ``'train'``, ``'valid'`` (``'val'`` is accepted) or ``'test'``.
        seq_len (int): the BPTT length ``T`` (the paper: 128).
        num_streams (int): ``B``, the number of contiguous streams the split is cut into
            (the classic batchify; the training batch size, 64 in the paper).
        min_freq (int): the minimum count in the training split of a kept word (the paper:
            2); the vocabulary always comes from ``wiki.train.tokens``.
        pipeline: must be empty (the text needs no transform); accepted for mmengine's
            dataset config convention.
        test_mode (bool): unused, accepted for the convention.

    Raises:
        FileNotFoundError: a split file or ``wiki.train.tokens`` is missing (named).
        ValueError: an empty split, a split too short for ``num_streams`` streams (both name
            the file), or a bad argument (named).
    """
    SPLITS = {'train': 'train', 'valid': 'valid', 'val': 'valid', 'test': 'test'}
    FILE = 'wiki.{}.tokens'
    URL = 'https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip'

    def __init__(self, data_root: str, split: str = 'train', seq_len: int = 128,
                 num_streams: int = 64, min_freq: int = 2, pipeline=(),
                 test_mode: bool = False) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'WikiText2: split must be one of {tuple(self.SPLITS)}, '
                             f'got {split!r}')
        if pipeline:
            raise ValueError('WikiText2: pipeline must be empty (the tokens need no '
                             f'transform), got {pipeline!r}')
        for name, value in (('seq_len', seq_len), ('num_streams', num_streams)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'WikiText2: {name} must be an int >= 1, got {value!r}')
        if not data_root:
            raise ValueError('WikiText2: data_root must name the folder of wiki.*.tokens '
                             f'({self.URL}, see docs/language_model.md)')
        self.data_root = data_root
        self.split = self.SPLITS[split]
        self.seq_len = seq_len
        self.num_streams = num_streams
        self.min_freq = min_freq
        self.train_file = self._path('train')
        self.file = self._path(self.split)
        self.vocab: Vocabulary = build_vocabulary(self.train_file, min_freq)
        lines = read_lines(self.file)
        if not lines:
            raise ValueError(f'WikiText2 ({self.split}): {self.file} holds no token; an empty '
                             'split cannot be trained or evaluated on')
        stream = encode_lines(lines, self.vocab)
        if stream.numel() // num_streams < 2:
            raise ValueError(
                f'WikiText2 ({self.split}): {self.file} has {stream.numel()} tokens (with '
                f'<eos>), too few for num_streams={num_streams} streams of >= 2 tokens')
        self.num_tokens = stream.numel()
        self.streams = batchify(stream, num_streams)
        self.windows = bptt_windows(self.streams.shape[1], seq_len)

    def _path(self, split: str) -> str:
        path = osp.join(self.data_root, self.FILE.format(split))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'WikiText2: {path} not found; data_root must hold the word-level '
                f'wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens (unzip {self.URL}; '
                'set WIKITEXT2_ROOT or --cfg-options, see docs/language_model.md)')
        return path

    @property
    def metainfo(self) -> Dict:
        """Saved by mmengine into every checkpoint's ``meta['dataset_meta']``: the vocabulary
        (words in id order), its SHA-256 and the file it was built from; also the number of
        target tokens of this split, which the perplexity metric checks."""
        return {'vocab': self.vocab.words, 'vocab_digest': self.vocab.digest,
                'vocab_file': self.train_file, 'min_freq': self.min_freq,
                'split_file': self.file, 'num_targets': self.num_targets}

    @property
    def num_targets(self) -> int:
        """Tokens predicted in one pass over the split: all but each stream's first."""
        return self.num_streams * (self.streams.shape[1] - 1)

    def full_init(self) -> None:
        """Nothing to do: the data is loaded at construction (mmengine calls this)."""

    def __len__(self) -> int:
        return len(self.windows) * self.num_streams

    def __getitem__(self, idx: int) -> Dict[str, torch.Tensor]:
        if not -len(self) <= idx < len(self):
            raise IndexError(f'WikiText2 index {idx} out of range for {len(self)} windows')
        window, stream = divmod(idx % len(self), self.num_streams)
        start, stop = self.windows[window]
        return {'inputs': self.streams[stream, start:stop].clone()}

    def __repr__(self) -> str:
        return (f'WikiText2(split={self.split!r}, file={self.file!r}, tokens={self.num_tokens}, '
                f'vocab={len(self.vocab)}, num_streams={self.num_streams}, '
                f'seq_len={self.seq_len}, windows={len(self)})')
