"""Word-level language-modelling text: tokenizer, vocabulary and BPTT batching (paper §IV-D1d).

The paper's WikiText-2 recipe (Table X): "basic English tokenization, retain words with
frequency at least 2, append an ``<eos>`` token to each sentence, BPTT length 128".

* :func:`basic_english_tokenize` reproduces torchtext's ``get_tokenizer('basic_english')``
  (``torchtext.data.utils._basic_english_normalize``; torchtext is deprecated, so the rules
  are written here): lowercase, then in this order ``'`` -> ``" '  "``, ``"`` removed,
  ``.`` ``,`` ``(`` ``)`` ``!`` ``?`` surrounded by spaces, ``<br />`` -> space, ``;`` and
  ``:`` -> space, whitespace runs -> one space; split on whitespace.
* :class:`Vocabulary`: ``<unk>`` (id 0) and ``<eos>`` (id 1), then every word of the training
  text seen at least ``min_freq`` times, by descending frequency, ties in code-point order
  (torchtext's ``build_vocab_from_iterator`` order). Other words map to ``<unk>``.
* Each non-blank line becomes its tokens followed by ``<eos>`` (a line is WikiText's
  sentence/paragraph unit; blank lines, which hold no sentence, add nothing).
* :func:`batchify`: the classic word-language-model batching -- the split's token stream
  is cut into ``num_streams`` contiguous streams (the trailing ``N mod num_streams`` tokens
  are dropped) and each stream into windows of ``seq_len`` inputs plus the next token as the
  last target (:func:`bptt_windows`).

Nothing here imports a toolbox: the model (vocabulary size) and the dataset share it.
"""
import hashlib
import os
import os.path as osp
import re
from collections import Counter
from functools import lru_cache
from typing import Iterable, List, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['UNK', 'EOS', 'SPECIALS', 'basic_english_tokenize', 'read_lines', 'Vocabulary',
           'build_vocabulary', 'encode_lines', 'batchify', 'bptt_windows']

UNK = '<unk>'
EOS = '<eos>'
SPECIALS = (UNK, EOS)

# torchtext.data.utils: _patterns / _replacements of basic_english, applied in this order
_BASIC_ENGLISH_RULES: Tuple[Tuple['re.Pattern', str], ...] = tuple(
    (re.compile(p), r) for p, r in (
        (r"\'", " '  "),
        (r'\"', ''),
        (r'\.', ' . '),
        (r'<br \/>', ' '),
        (r',', ' , '),
        (r'\(', ' ( '),
        (r'\)', ' ) '),
        (r'\!', ' ! '),
        (r'\?', ' ? '),
        (r'\;', ' '),
        (r'\:', ' '),
        (r'\s+', ' '),
    ))


def basic_english_tokenize(line: str) -> List[str]:
    """torchtext's ``basic_english`` tokenizer (see the module docstring for its rules).

    Args:
        line (str): one line of text.

    Returns:
        list[str]: the lowercase tokens.
    """
    line = line.lower()
    for pattern, replacement in _BASIC_ENGLISH_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def _file_key(path: str) -> Tuple[str, int, int]:
    """``(absolute path, size, mtime_ns)``: a cache key that changes when the file does."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'language-model text file not found: {path}')
    st = os.stat(path)
    return osp.abspath(path), st.st_size, st.st_mtime_ns


@lru_cache(maxsize=8)
def _tokenized_lines(key: Tuple[str, int, int]) -> Tuple[Tuple[str, ...], ...]:
    with open(key[0], encoding='utf-8') as f:
        lines = (basic_english_tokenize(line) for line in f)
        return tuple(tuple(t) for t in lines if t)


def read_lines(path: str) -> Tuple[Tuple[str, ...], ...]:
    """The tokenized non-blank lines of a UTF-8 text file (cached while the file is unchanged).

    Raises:
        FileNotFoundError: naming ``path``.
    """
    return _tokenized_lines(_file_key(path))


class Vocabulary:
    """Word <-> id map of the training text (``<unk>`` = 0, ``<eos>`` = 1).

    Args:
        words (Sequence[str]): the words in id order, starting with ``<unk>``, ``<eos>``.
        source (str): where the vocabulary comes from (named in errors).
    """

    def __init__(self, words: Sequence[str], source: str = '') -> None:
        words = tuple(words)
        if words[:2] != SPECIALS:
            raise ValueError(f'a vocabulary starts with {SPECIALS}, got {words[:2]}')
        if len(set(words)) != len(words):
            raise ValueError(f'vocabulary from {source or "?"} repeats a word')
        self.words = words
        self.source = source
        self.index = {w: i for i, w in enumerate(words)}

    def __len__(self) -> int:
        return len(self.words)

    @property
    def unk_id(self) -> int:
        return 0

    @property
    def eos_id(self) -> int:
        return 1

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the words in id order: equal digests, equal id maps."""
        return hashlib.sha256('\n'.join(self.words).encode('utf-8')).hexdigest()

    def lookup(self, tokens: Iterable[str]) -> List[int]:
        """Ids of ``tokens``; unknown words give ``<unk>``."""
        get = self.index.get
        return [get(t, 0) for t in tokens]


@lru_cache(maxsize=8)
def _vocabulary(key: Tuple[str, int, int], min_freq: int) -> Vocabulary:
    counts = Counter(t for line in _tokenized_lines(key) for t in line)
    for s in SPECIALS:
        counts.pop(s, None)  # WikiText's own "<unk>" words are the <unk> special
    kept = sorted((w for w, c in counts.items() if c >= min_freq),
                  key=lambda w: (-counts[w], w))
    return Vocabulary(SPECIALS + tuple(kept), source=key[0])


def build_vocabulary(train_file: str, min_freq: int = 2) -> Vocabulary:
    """The vocabulary of a training text: specials, then words with count >= ``min_freq``.

    Args:
        train_file (str): the training split (e.g. ``wiki.train.tokens``).
        min_freq (int): the minimum count of a kept word (the paper: 2).

    Raises:
        FileNotFoundError: naming ``train_file``.
        ValueError: ``min_freq`` not an int >= 1, or ``train_file`` holds no token.
    """
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f'min_freq must be an int >= 1, got {min_freq!r}')
    key = _file_key(train_file)
    if not _tokenized_lines(key):
        raise ValueError(f'{train_file} holds no token: the vocabulary is built from the '
                         'training split, which must not be empty')
    return _vocabulary(key, min_freq)


def encode_lines(lines: Iterable[Sequence[str]], vocab: Vocabulary) -> Tensor:
    """The token stream: each line's ids followed by ``<eos>``, concatenated (int64)."""
    ids: List[int] = []
    for line in lines:
        ids.extend(vocab.lookup(line))
        ids.append(vocab.eos_id)
    return torch.tensor(ids, dtype=torch.long)


def batchify(stream: Tensor, num_streams: int) -> Tensor:
    """Cuts a token stream into ``num_streams`` contiguous rows (classic ``batchify``).

    Args:
        stream (Tensor): ``(N,)`` token ids.
        num_streams (int): ``B``, the number of parallel streams.

    Returns:
        Tensor: ``(B, N // B)``; row ``b`` is ``stream[b * L:(b + 1) * L]``; the last
        ``N mod B`` tokens are dropped.
    """
    if isinstance(num_streams, bool) or not isinstance(num_streams, int) or num_streams < 1:
        raise ValueError(f'num_streams must be an int >= 1, got {num_streams!r}')
    length = stream.numel() // num_streams
    return stream[:length * num_streams].view(num_streams, length)


def bptt_windows(stream_length: int, seq_len: int) -> List[Tuple[int, int]]:
    """``(start, stop)`` column ranges of the BPTT windows of one stream.

    Window ``c`` holds tokens ``[c * seq_len, min((c + 1) * seq_len, L - 1) + 1)``: up to
    ``seq_len`` inputs and, shifted by one, their targets. Every token but the first of a
    stream is a target exactly once; the last window may be shorter.
    """
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f'seq_len must be an int >= 1, got {seq_len!r}')
    return [(s, min(s + seq_len, stream_length - 1) + 1)
            for s in range(0, stream_length - 1, seq_len)]
