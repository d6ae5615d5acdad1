"""Perplexity (valid/test) and the vocabulary check of the WikiText-2 language model (§IV-D1d).

:class:`Perplexity` is ``exp`` of the mean negative log-likelihood over every predicted token
of the split, ``exp(sum_t -log p(w_t | w_<t) / N)``, from the per-sequence sums of
``TransformerLM.forward(mode='predict')``.

:class:`VocabularyCheckHook` refuses, with an error naming the files, a checkpoint or a model
whose vocabulary differs from the one the data is encoded with: token ids are only meaningful
under the vocabulary they were built with, and a different one would silently give wrong
perplexities (or load an embedding of another size). The vocabulary is identified by its
SHA-256 (``TransformerLM.vocab_digest`` buffer, saved in the state dict; the dataset's
``metainfo['vocab_digest']``).
"""
import math
from typing import Any, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, find_latest_checkpoint
from mmpretrain.registry import HOOKS, METRICS

from ..core.forms import CheckpointFormError

__all__ = ['Perplexity', 'VocabularyCheckHook', 'VocabularyMismatchError',
           'CheckpointFormError']


class VocabularyMismatchError(ValueError):
    """A checkpoint, model and data that do not share one vocabulary."""


@METRICS.register_module()
class Perplexity(BaseMetric):
    """Word-level perplexity ``exp(NLL / N)`` over the whole split.

    Reports ``lm/perplexity`` and ``lm/nll`` (mean negative log-likelihood per token, nats). When
    the dataset's ``metainfo`` gives ``num_targets``, the evaluated token count must equal it
    (a dropped or repeated batch raises instead of reporting a perplexity of part of the
    split).

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'`` (mmengine). Default ``'cpu'``.
        prefix (str, optional): the prefix of the metric names. Default ``'lm'``.
    """
    default_prefix: Optional[str] = 'lm'

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((float(sample['nll_sum']), int(sample['num_tokens'])))

    def compute_metrics(self, results: List[tuple]) -> dict:
        nll = math.fsum(r[0] for r in results)
        count = sum(r[1] for r in results)
        if count == 0:
            raise ValueError('Perplexity: no target token was evaluated')
        expected = (self.dataset_meta or {}).get('num_targets')
        if expected is not None and count != expected:
            raise ValueError(f'Perplexity: evaluated {count} target tokens but the split has '
                             f'{expected}; every window must be evaluated exactly once (no '
                             'drop_last, no repeated samples)')
        return {'perplexity': math.exp(nll / count), 'nll': nll / count}


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _hex(digest: torch.Tensor) -> str:
    return bytes(digest.to('cpu', torch.uint8).tolist()).hex()


def _unset(digest_hex: str) -> bool:
    return digest_hex == '00' * 32


def _built_dataset(runner) -> Optional[Any]:
    """The dataset of the first built loop (train, val, test) that has a vocabulary."""
    for name in ('_train_loop', '_val_loop', '_test_loop'):
        loop = getattr(runner, name, None)
        if isinstance(loop, BaseLoop):
            dataset = loop.dataloader.dataset
            if hasattr(dataset, 'vocab'):
                return dataset
    return None


def _checkpoint_name(runner) -> str:
    load_from = getattr(runner, '_load_from', None)
    if load_from:
        return str(load_from)
    latest = find_latest_checkpoint(runner.work_dir) if runner.work_dir else None
    return str(latest or 'the loaded checkpoint')


@HOOKS.register_module()
class VocabularyCheckHook(Hook):
    """Ties the model's vocabulary to the dataset's; raises on any mismatch.

    * after a checkpoint is loaded (``load_from``, ``--resume``, ``tools/test.py``): its
      ``vocab_digest`` must equal the data's (the error names the checkpoint and
      ``wiki.train.tokens``); a checkpoint without one is refused too; and its state-dict keys
      must be exactly the model's (mmengine loads non-strictly and would only warn, leaving
      e.g. the folded layers of a ``deploy=True`` model at their random init when given a
      training-form RepL checkpoint): :class:`CheckpointFormError` names the checkpoint, the
      keys and the fix;
    * before training / validation / testing: ``model.vocab_size`` must equal the
      vocabulary's size and the model's ``vocab_digest`` the data's; an unset digest (a
      model built with an explicit ``vocab_size``) takes the data's, so every checkpoint
      saved afterwards records its vocabulary.
    """
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', checkpoint)
        digest = state.get('vocab_digest', state.get('module.vocab_digest'))
        name = _checkpoint_name(runner)
        if digest is None or _unset(_hex(digest)):
            raise VocabularyMismatchError(
                f'checkpoint {name} records no vocabulary (no vocab_digest in its state_dict): '
                'it was not written by a repl_mm TransformerLM trained through the Runner, '
                'so its token ids cannot be checked against the data')
        dataset = _built_dataset(runner)
        if dataset is not None and _hex(digest) != dataset.vocab.digest:
            meta = checkpoint.get('meta', {}).get('dataset_meta') or {}
            saved = meta.get('vocab')
            size = f' ({len(saved)} words, built from {meta.get("vocab_file")})' \
                if saved is not None else ''
            raise VocabularyMismatchError(
                f'checkpoint {name} was trained with another vocabulary{size} than the one '
                f'built from {dataset.train_file} ({len(dataset.vocab)} words, min_freq='
                f'{dataset.min_freq}): its token ids mean other words. Use the data (and '
                'min_freq) the checkpoint was trained on')
        self._check_keys(runner, state, name)

    @staticmethod
    def _check_keys(runner, state: dict, name: str) -> None:
        model = _unwrap(runner.model)
        want = set(model.state_dict())
        have = {k[len('module.'):] if k.startswith('module.') else k for k in state}
        missing, unexpected = sorted(want - have), sorted(have - want)
        if not (missing or unexpected):
            return
        form = type(model).__name__ + (f' (deploy={model.deploy})'
                                       if hasattr(model, 'deploy') else '')
        raise CheckpointFormError(
            f'checkpoint {name} does not fit the model {form}: missing keys {missing[:4]}'
            f'{" ..." if len(missing) > 4 else ""}, unexpected keys {unexpected[:4]}'
            f'{" ..." if len(unexpected) > 4 else ""}. A RepL training checkpoint needs '
            'TransformerLMRepL with deploy=False, one written by '
            'tools/reparameterize_model.py needs --cfg-options model.deploy=True, an E2E one '
            'TransformerLM (the same num_layers, widths and RepL arguments as in training)')

    def _check(self, runner, dataset) -> None:
        model = _unwrap(runner.model)
        if not hasattr(dataset, 'vocab'):
            raise TypeError(f'VocabularyCheckHook needs a dataset with a vocabulary '
                            f'(WikiText2), got {type(dataset).__name__}')
        if model.vocab_size != len(dataset.vocab):
            raise VocabularyMismatchError(
                f'model.vocab_size={model.vocab_size} but the vocabulary built from '
                f'{dataset.train_file} (min_freq={dataset.min_freq}) has {len(dataset.vocab)} '
                f'words; set model.vocab_from to that file (or model.vocab_size='
                f'{len(dataset.vocab)})')
        digest = _hex(model.vocab_digest)
        if _unset(digest):
            with torch.no_grad():
                model.vocab_digest.copy_(torch.tensor(
                    list(bytes.fromhex(dataset.vocab.digest)), dtype=torch.uint8))
        elif digest != dataset.vocab.digest:
            raise VocabularyMismatchError(
                f'the model was built or trained with another vocabulary than the one built '
                f'from {dataset.train_file} ({len(dataset.vocab)} words, min_freq='
                f'{dataset.min_freq}); its token ids mean other words')

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader.dataset)

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader.dataset)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader.dataset)
