"""A causal Transformer language model and its RepL form (paper §IV-D1d, Table X).

``Transformer-LM-12L-512d-8H-2048ff``: token embedding (``d = 512``) scaled by ``sqrt(d)`` plus
a fixed sinusoidal positional encoding, dropout, 12 pre-norm blocks (eq. 18 with causal
self-attention: ``U = X + MSA_causal(LN1(X))``, ``X' = U + FFN(LN2(U))``, 8 heads, GELU FFN of
2048), a final LayerNorm and an untied output layer ``Linear(d, V)``.

Choices the paper leaves open (docs/language_model.md):

* **untied** output layer by default (``tie_weights=True`` ties it to the embedding): the
  Transformer of PyTorch's word-language-model example and tutorial, which use the paper's
  data recipe (basic English tokenizer, ``<eos>`` per line, BPTT batching), keep the two
  apart (tying is an opt-in flag there). RepL touches neither matrix, so the choice shifts
  both rows of Table X's parameter comparison by the same ``V x d``;
* sinusoidal positions (no parameters) and the tutorial's ``sqrt(d)`` embedding scale and
  ``U(-0.1, 0.1)`` init of embedding and output layer; block linears keep torch's default
  init; dropout 0.1 on the embedding, attention weights and both residual branches; GELU in
  the FFN (the activation the MLP-fusion branch of the computing layer uses, eq. 27).

The blocks expose the part names of mmpretrain's ``TransformerEncoderLayer`` (``ln1``,
``attn.proj``, ``ln2``, ``ffn`` holding exactly two ``nn.Linear``), so
:func:`repl_mm.core.vit.transformer_block_parts` reads them and
:class:`~repl_mm.core.vit.ViTComputingLayer` replaces removed ones unchanged.
:class:`TransformerLMRepL` removes the blocks of :func:`repl_mm.core.plan.removal_plan` (12
layers, ``K = 4``: 0-based 3 and 7, like ViT-RepL). A computing layer maps each token on its
own (its attention branch is a per-token linear map, eq. 20-24; its MLP branch is per token,
eq. 25-27), so it mixes no positions and the RepL model stays causal.

Inputs: ``(B, T)`` token ids; the :class:`LMDataPreprocessor` turns dataset windows of
``T + 1`` ids into inputs ``[:-1]`` and targets ``[1:]`` (right padding with target -100).
"""
import math
import os
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch import Tensor, nn

from ..core.forms import prepare_backbone_for_state_dict
from ..core.neighbours import fold_layers, forward_layer
from ..core.options import DEFAULT_INTERVAL, TRANSFORMER_REPL_ARGS_DOC, TransformerRepLOptions
from ..core.plan import removal_plan
from ..core.vit import ViTComputingLayer, transformer_block_parts
from ..datasets.text import build_vocabulary
from .summary import log_removal, trainable_params

__all__ = ['IGNORE_INDEX', 'CausalSelfAttention', 'CausalTransformerBlock',
           'LMDataPreprocessor', 'TransformerLM', 'TransformerLMRepL', 'REPL_LM_ARGS']

IGNORE_INDEX = -100  # padded target positions (F.cross_entropy's default ignore_index)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where token ``t`` attends to tokens ``<= t``.

    Args:
        embed_dims (int): ``d``.
        num_heads (int): ``H`` (``d`` divisible by ``H``).
        attn_drop (float): dropout on the attention weights (training only).
        proj_drop (float): dropout after the output projection ``proj`` (``W^proj``, eq. 19).
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads '
                             f'({num_heads})')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor) -> Tensor:
        B, T, d = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.num_heads, d // self.num_heads) \
            .permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., is_causal=True)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, T, d)))


class CausalTransformerBlock(nn.Module):
    """Pre-norm block (eq. 18) with causal attention and a two-linear GELU FFN.

    Args:
        embed_dims (int): ``d``.
        num_heads (int): ``H``.
        feedforward_channels (int): the FFN hidden width.
        drop_rate (float): dropout on attention weights and on both residual branches.
        norm_eps (float): LayerNorm epsilon.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 drop_rate: float = 0.1, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = CausalSelfAttention(embed_dims, num_heads, drop_rate, drop_rate)
        self.ln2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, feedforward_channels), nn.GELU(), nn.Dropout(drop_rate),
            nn.Linear(feedforward_channels, embed_dims), nn.Dropout(drop_rate))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


def sinusoidal_positions(max_len: int, embed_dims: int) -> Tensor:
    """``PE[p, 2i] = sin(p / 10000^(2i/d))``, ``PE[p, 2i+1] = cos(...)``: ``(max_len, d)``."""
    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, embed_dims, 2, dtype=torch.float32)
                     * (-math.log(10000.0) / embed_dims))
    pe = torch.zeros(max_len, embed_dims)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, :embed_dims // 2]
    return pe


class LMDataPreprocessor(BaseDataPreprocessor):
    """Dataset windows of ``T_i + 1`` token ids -> ``inputs (B, T)`` and targets ``(B, T)``.

    Accepts ``data['inputs']`` as a list of 1-d LongTensors (``pseudo_collate``) or a stacked
    ``(B, T + 1)`` tensor (``default_collate``). Shorter windows are right-padded: inputs with
    ``pad_id``, targets with -100 (ignored by the loss and the perplexity); the causal mask
    keeps padding out of every real position.

    Args:
        pad_id (int): the input id of padded positions. Default 0.
    """

    def __init__(self, pad_id: int = 0) -> None:
        super().__init__()
        self.pad_id = pad_id

    def forward(self, data: dict, training: bool = False) -> dict:
        seqs = data['inputs']
        if isinstance(seqs, Tensor):
            seqs = list(seqs)
        if not seqs:
            raise ValueError('LMDataPreprocessor: an empty batch')
        for s in seqs:
            if s.dim() != 1 or s.numel() < 2 or s.dtype != torch.long:
                raise ValueError('LMDataPreprocessor: every window must be a 1-d int64 tensor '
                                 f'of >= 2 token ids, got {tuple(s.shape)} {s.dtype}')
        T = max(s.numel() for s in seqs) - 1
        inputs = torch.full((len(seqs), T), self.pad_id, dtype=torch.long)
        targets = torch.full((len(seqs), T), IGNORE_INDEX, dtype=torch.long)
        for b, s in enumerate(seqs):
            inputs[b, :s.numel() - 1] = s[:-1]
            targets[b, :s.numel() - 1] = s[1:]
        return self.cast_data({'inputs': inputs, 'data_samples': targets})




class TransformerLM(BaseModel):
    """Causal pre-norm Transformer LM (the E2E model of Table X), an mmengine ``BaseModel``.

    Args:
        vocab_size (int, optional): ``V``. Give it, or ``vocab_from``.
        vocab_from (str, optional): the training text whose vocabulary (``min_freq``,
            :func:`repl_mm.datasets.text.build_vocabulary`) sizes the model; its SHA-256 is
            kept in the ``vocab_digest`` buffer (saved in every checkpoint) so that a
            checkpoint and data with other vocabularies are refused.
        min_freq (int): see ``vocab_from``. Default 2.
        vocab_size_without_data (int, optional): the ``V`` to build with when ``vocab_from``
            names a file that does not exist, so that a config builds from the config alone
            (``tools/analysis_tools/plan.py``, benchmarks: shapes only). Such a model has no
            recorded vocabulary (zero ``vocab_digest``) and ``VocabularyCheckHook`` checks its
            ``vocab_size`` against the data before any training / evaluation, naming the
            right value. Not used when the file exists (the file decides). Default None.
        embed_dims (int): ``d``. Default 512.
        num_layers (int): number of blocks. Default 12.
        num_heads (int): ``H``. Default 8.
        feedforward_channels (int): FFN width. Default 2048.
        max_len (int): longest input the positional encoding covers. Default 512.
        drop_rate (float): dropout (embedding, attention weights, residual branches).
            Default 0.1.
        tie_weights (bool): share the output layer's weight with the embedding. Default
            False.
        norm_eps (float): LayerNorm epsilon. Default 1e-5.
        data_preprocessor (dict | nn.Module, optional): default :class:`LMDataPreprocessor`.
        init_cfg: unused (the model initialises itself at construction); accepted for the
            mmengine convention and must be None.
    """

    def __init__(self, vocab_size: Optional[int] = None, vocab_from: Optional[str] = None,
                 min_freq: int = 2, vocab_size_without_data: Optional[int] = None,
                 embed_dims: int = 512, num_layers: int = 12,
                 num_heads: int = 8, feedforward_channels: int = 2048, max_len: int = 512,
                 drop_rate: float = 0.1, tie_weights: bool = False, norm_eps: float = 1e-5,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg=None) -> None:
        if init_cfg is not None:
            raise ValueError(f'{type(self).__name__}: init_cfg must be None (the model '
                             f'initialises itself), got {init_cfg!r}')
        super().__init__(data_preprocessor=_preprocessor(data_preprocessor))
        digest = bytes(32)
        if vocab_from is not None and vocab_size_without_data is not None \
                and not os.path.isfile(vocab_from):
            from mmengine.logging import print_log
            print_log(f'{type(self).__name__}: vocab_from={vocab_from!r} does not exist; built '
                      f'with vocab_size_without_data={vocab_size_without_data} (shapes only: '
                      'VocabularyCheckHook checks it against the data before training or '
                      'evaluation)', logger='current')
            if vocab_size is not None and vocab_size != vocab_size_without_data:
                raise ValueError(f'{type(self).__name__}: vocab_size={vocab_size} and '
                                 f'vocab_size_without_data={vocab_size_without_data} differ; '
                                 'give one of the two')
            vocab_size, vocab_from = vocab_size_without_data, None
        if vocab_from is not None:
            vocab = build_vocabulary(vocab_from, min_freq)
            if vocab_size is not None and vocab_size != len(vocab):
                raise ValueError(
                    f'{type(self).__name__}: vocab_size={vocab_size} but the vocabulary of '
                    f'vocab_from={vocab_from!r} (min_freq={min_freq}) has {len(vocab)} words; '
                    'give one of the two')
            vocab_size, digest = len(vocab), bytes.fromhex(vocab.digest)
        for name, value in (('vocab_size', vocab_size), ('embed_dims', embed_dims),
                            ('num_layers', num_layers), ('num_heads', num_heads),
                            ('feedforward_channels', feedforward_channels),
                            ('max_len', max_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{type(self).__name__}: {name} must be an int >= 1, got '
                                 f'{value!r}' + (' (give vocab_size or vocab_from)'
                                                 if name == 'vocab_size' else ''))
        if not isinstance(tie_weights, bool):
            raise ValueError(f'tie_weights must be True or False, got {tie_weights!r}')
        self.vocab_size = vocab_size
        self.embed_dims = embed_dims
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.feedforward_channels = feedforward_channels
        self.max_len = max_len
        self.tie_weights = tie_weights
        # SHA-256 of the vocabulary (all zeros: not known yet; VocabularyCheckHook sets it)
        self.register_buffer('vocab_digest', torch.tensor(list(digest), dtype=torch.uint8))
        self.embed = nn.Embedding(vocab_size, embed_dims)
        self.register_buffer('pos_encoding', sinusoidal_positions(max_len, embed_dims),
                             persistent=False)
        self.drop = nn.Dropout(drop_rate)
        self.layers = nn.ModuleList(
            CausalTransformerBlock(embed_dims, num_heads, feedforward_channels, drop_rate,
                                   norm_eps) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.head = nn.Linear(embed_dims, vocab_size)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.head.bias)
        if tie_weights:
            self.head.weight = self.embed.weight
        else:
            nn.init.uniform_(self.head.weight, -0.1, 0.1)

    # --- forward ---------------------------------------------------------------------------
    def random_inputs(self, batch_size: int, generator: Optional[torch.Generator] = None,
                      length: Optional[int] = None) -> Tensor:
        """Random token ids ``(batch_size, length)`` (default length ``min(max_len, 32)``): the
        input the deploy converter checks the two forms on."""
        length = length or min(self.max_len, 32)
        return torch.randint(self.vocab_size, (batch_size, length), generator=generator)

    def logits(self, tokens: Tensor) -> Tensor:
        """``(B, T)`` token ids -> ``(B, T, V)`` next-token logits."""
        if tokens.dim() != 2:
            raise ValueError(f'inputs must be (B, T) token ids, got shape {tuple(tokens.shape)}')
        T = tokens.shape[1]
        if T > self.max_len:
            raise ValueError(f'{type(self).__name__}: inputs of {T} tokens exceed max_len='
                             f'{self.max_len}')
        x = self.embed(tokens) * math.sqrt(self.embed_dims) + self.pos_encoding[:T]
        x = self.drop(x)
        layers = list(self.layers)
        for i in range(len(layers)):
            x = forward_layer(layers, i, x)
        return self.head(self.ln_f(x))

    def forward(self, inputs: Tensor, data_samples: Optional[Tensor] = None,
                mode: str = 'tensor'):
        """mmengine's three modes.

        Args:
            inputs (Tensor): ``(B, T)`` token ids.
            data_samples (Tensor, optional): ``(B, T)`` next-token targets, -100 where padded
                (``'loss'`` and ``'predict'``).
            mode (str): ``'tensor'`` -> logits ``(B, T, V)``; ``'loss'`` -> ``{'loss':
                mean cross-entropy over the targets}``; ``'predict'`` -> one dict per sequence
                ``{'nll_sum': summed negative log-likelihood (float64), 'num_tokens': targets}``
                for :class:`repl_mm.evaluation.Perplexity`.
        """
        if mode not in ('tensor', 'loss', 'predict'):
            raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")
        logits = self.logits(inputs)
        if mode == 'tensor':
            return logits
        if data_samples is None or data_samples.shape != inputs.shape:
            raise ValueError(f'mode={mode!r} needs data_samples: (B, T) targets like inputs '
                             f'{tuple(inputs.shape)}')
        nll = F.cross_entropy(logits.float().flatten(0, 1), data_samples.flatten(),
                              ignore_index=IGNORE_INDEX, reduction='none').view_as(inputs)
        valid = data_samples != IGNORE_INDEX
        if mode == 'loss':
            return {'loss': nll.sum() / valid.sum().clamp(min=1)}
        sums = nll.double().sum(1).cpu()
        counts = valid.sum(1).cpu()
        return [{'nll_sum': float(s), 'num_tokens': int(c)} for s, c in zip(sums, counts)]

    def loss(self, inputs: Tensor, data_samples: Tensor) -> Dict[str, Tensor]:
        """``forward(inputs, data_samples, mode='loss')`` (the toolboxes' ``model.loss``)."""
        return self(inputs, data_samples, mode='loss')

    def predict(self, inputs: Tensor, data_samples: Tensor) -> List[dict]:
        """``forward(inputs, data_samples, mode='predict')``."""
        return self(inputs, data_samples, mode='predict')


def _preprocessor(cfg: Optional[Union[dict, nn.Module]]) -> nn.Module:
    if cfg is None:
        return LMDataPreprocessor()
    if isinstance(cfg, nn.Module):
        return cfg
    cfg = dict(cfg)
    kind = cfg.pop('type', 'LMDataPreprocessor')
    if kind not in ('LMDataPreprocessor', LMDataPreprocessor):
        raise ValueError(f"data_preprocessor must be dict(type='LMDataPreprocessor', ...), "
                         f'got type={kind!r}')
    return LMDataPreprocessor(**cfg)


#: The ``Args:`` text of the RepL arguments (one source: :mod:`repl_mm.core.options`).
REPL_LM_ARGS = TRANSFORMER_REPL_ARGS_DOC


class TransformerLMRepL(TransformerLM):
    __doc__ = ('RepL form of :class:`TransformerLM` (paper §IV-D1d): the blocks of '
               '``removal_plan([num_layers], interval)`` become '
               ':class:`~repl_mm.core.vit.ViTComputingLayer` s (or nothing with '
               '``remove_only``) at the removed block\'s index of ``layers`` (state-dict key '
               '``layers.3.synthesis.alpha``). Every argument of :class:`TransformerLM`, '
               'plus:\n\n    Args:' + REPL_LM_ARGS)

    def __init__(self, *, interval: Optional[int] = DEFAULT_INTERVAL,
                 replace_blocks: Optional[Sequence[int]] = None,
                 synthesis_branches: Sequence[str] = ('attn', 'mlp'),
                 head_wise: bool = False, neighbours: str = 'both',
                 coefficients: str = 'separate', stop_grad: bool = True,
                 remove_only: bool = False, deploy: bool = False, **kwargs) -> None:
        try:
            self.repl_options = TransformerRepLOptions(
                interval, replace_blocks, neighbours, coefficients, stop_grad, remove_only,
                deploy, synthesis_branches, head_wise)
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        super().__init__(**kwargs)
        for name, value in self.repl_options.as_dict().items():
            setattr(self, name, value)  # self.interval, self.deploy, ...
        params_before = trainable_params(self)
        try:
            plan = removal_plan([len(self.layers)], self.repl_options.plan_interval,
                                None if replace_blocks is None else [list(replace_blocks)])
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from None
        self.removed_blocks: List[int] = plan[0]
        for i in self.removed_blocks:
            self.layers[i] = nn.Identity() if remove_only else self._computing_layer(i)
        log_removal(type(self).__name__, self.repl_options,
                    [f'layers.{i}' for i in self.removed_blocks], len(self.layers),
                    params_before, trainable_params(self))

    def _computing_layer(self, index: int) -> ViTComputingLayer:
        """The computing layer for removed block ``index``, neighbours checked."""
        parts = transformer_block_parts(self.layers[index])
        from ..core.own import NO_NEIGHBOURS, OwnViTComputingLayer
        own = self.repl_options.neighbours == NO_NEIGHBOURS   # Table VI "no weights"
        cls = OwnViTComputingLayer if own else ViTComputingLayer
        layer = cls(
            self.embed_dims, self.num_heads, self.feedforward_channels,
            **self.repl_options.layer_kwargs(), drop_path=None, norm_eps=float(parts.ln1.eps))
        for nb, side in ((self.layers[index - 1], 'left'), (self.layers[index + 1], 'right')):
            layer.check_neighbour(nb, side)
        return layer

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # a checkpoint of the other form (training / deploy): switch or refuse (core.forms)
        prepare_backbone_for_state_dict(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def switch_to_deploy(self) -> None:
        """Folds every computing layer into fixed LayerNorm/Linear modules (eq. 33); in eval
        mode the logits stay equal to float precision. Load the result with
        ``deploy=True``."""
        fold_layers(list(self.layers))
        self.deploy = True
