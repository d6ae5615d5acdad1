"""Adaptive-RepL (paper §IV-D1h, eq. 34, Table XV): learn where to replace, epoch by epoch.

With ``adaptive=True`` a RepL backbone keeps **every** block and attaches a computing layer to
every internal block that the removal rules allow (not the first or last block of a stage,
not block 1 of a Bottleneck stage). A binary mask ``m`` selects which blocks are replaced:
a selected block is not run, its computing layer runs in its place, synthesized from the two
neighbours exactly as in fixed RepL (eq. 5-27); unselected computing layers are idle. The mask
always selects ``|F|`` blocks, the number the fixed plan of the same config replaces (eq. 34:
``sum_i m_i = |F|``), never two adjacent ones (each computing layer needs both neighbours).

The paper says only that "a per-block redundancy/similarity score" picks the top-``|F|``
blocks each epoch. Our score (:func:`redundancy_scores`) is the input-output cosine
similarity of each candidate block, averaged over a batch, with every block run: a block whose
output is nearly its input is the most redundant and is replaced first (the "block influence"
of layer-pruning work, ``1 - cos``). :func:`select_blocks` takes the ``|F|`` highest-scoring
candidates subject to non-adjacency (the feasible ``|F|``-subset of largest total score; it
is the plain top-``|F|`` whenever that is feasible). The runtime hook that recomputes the mask
every epoch, logs it and keeps it in checkpoints is
:class:`repl_mm.engine.hooks.adaptive_repl_hook.AdaptiveRepLHook`.

Cost (why Table XV's Adaptive-RepL uses more memory than fixed RepL): all blocks and their
optimizer state stay, plus one computing layer per candidate; parameters are
``P_E2E + sum_{candidates} a_r`` against fixed RepL's ``P_E2E - sum_{r in F} (P_r - a_r)``.

State-dict keys: the blocks keep their stock keys (``layer3.3.conv1.weight``); a stage's
computing layers sit under ``layer3.computing.<index>.`` (ViT: ``adaptive_layers.<index>.``).
The mask is also in the state dict: the backbone buffer ``adaptive_mask_state`` (one uint8 per
candidate, :data:`MASK_BUFFER`), so every loader restores it with the weights; the hook also
stores it in the checkpoint (``checkpoint['adaptive_repl']``).

Deploy: ``switch_to_deploy()`` first fixes the current mask (the backbone becomes the fixed
RepL backbone of ``replace_blocks=<mask>``: selected blocks dropped, idle computing layers
discarded) and then folds as usual. The converter (:func:`repl_mm.deploy.reparameterize_checkpoint`)
and :func:`repl_mm.deploy.load_deploy_model` take the mask from the checkpoint
(:func:`checkpoint_adaptive_mask`) and refuse an adaptive checkpoint without one; the deploy
checkpoint records the plan it was folded with (``meta['repl_plan']``). Such a deploy checkpoint
loads with the *same* adaptive config: :meth:`AdaptiveRepLMixin.adapt_to_state_dict`
reads the replaced blocks from its deploy-form keys and fixes the mask before the load (or load
it with ``adaptive=False, replace_blocks=<mask>, deploy=True``).
"""
from collections import OrderedDict
from functools import lru_cache
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule, ModuleDict, Sequential
from torch import Tensor, nn

from ..core.neighbours import forward_layer

__all__ = ['AdaptiveRepLStage', 'select_blocks', 'redundancy_scores', 'AdaptiveRepLMixin',
           'check_adaptive', 'ADAPTIVE_ARGS_DOC', 'CHECKPOINT_KEY', 'checkpoint_adaptive_mask',
           'is_adaptive', 'MASK_BUFFER']

#: where ``AdaptiveRepLHook`` keeps the mask in a checkpoint (``checkpoint['adaptive_repl']``)
CHECKPOINT_KEY = 'adaptive_repl'
#: the backbone buffer that carries the mask in the state dict (``backbone.adaptive_mask_state``)
MASK_BUFFER = 'adaptive_mask_state'


def is_adaptive(backbone: nn.Module) -> bool:
    """True for a RepL backbone built with ``adaptive=True`` whose mask is not fixed yet."""
    return bool(getattr(backbone, 'adaptive', False)) and hasattr(backbone, 'set_adaptive_mask')


def checkpoint_adaptive_mask(backbone: nn.Module, checkpoint: dict,
                             name: str = 'the checkpoint') -> Optional[List[List[int]]]:
    """The Adaptive-RepL mask a training checkpoint was trained with (eq. 34), checked against
    ``backbone``.

    Args:
        backbone (nn.Module): the backbone the checkpoint is loaded into.
        checkpoint (dict): the loaded checkpoint (``state_dict``, ``meta``, ``adaptive_repl``).
        name (str): how the errors name the checkpoint (its path).

    Returns:
        The mask (one list per stage) if ``backbone`` is adaptive, else None.

    Raises:
        ValueError: the backbone is adaptive and the checkpoint has no mask (neither an
            ``adaptive_repl`` entry nor the state-dict buffer: the replaced blocks are unknown),
            one of another ``|F|``, or two that differ; or the checkpoint holds a mask and the
            backbone is not adaptive (the config is not the one it was trained with).
    """
    state = checkpoint.get(CHECKPOINT_KEY) if isinstance(checkpoint, dict) else None
    if not is_adaptive(backbone):
        if state is not None:
            raise ValueError(
                f"{name} was trained with Adaptive-RepL (its '{CHECKPOINT_KEY}' entry holds the "
                f"mask {state.get('mask')!r}) but the config builds a non-adaptive "
                f'{type(backbone).__name__}: pass the adaptive config the checkpoint was '
                'trained with (model.backbone.adaptive=True)')
        return None
    masks = {}
    if isinstance(state, dict) and 'mask' in state:
        if state.get('count') not in (None, backbone.adaptive_count):
            raise ValueError(f"{name}'s Adaptive-RepL mask replaces {state.get('count')} "
                             f'blocks, this model |F| = {backbone.adaptive_count}: the config '
                             "differs from the run's (interval / replace_blocks)")
        masks[f"'{CHECKPOINT_KEY}'"] = [sorted(int(i) for i in m) for m in state['mask']]
    sd = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else {}
    for key in (f'backbone.{MASK_BUFFER}', f'module.backbone.{MASK_BUFFER}', MASK_BUFFER):
        if key in sd:
            masks['state_dict ' + key] = backbone.mask_from_buffer(sd[key])
            break
    if not masks:
        raise ValueError(
            f"{name} has no '{CHECKPOINT_KEY}' entry and no {MASK_BUFFER} in its state_dict, "
            'so the blocks its Adaptive-RepL model replaced are unknown and any fold or '
            'evaluation would use a guessed mask: use a checkpoint written by a run with '
            'AdaptiveRepLHook, or a config without adaptive=True for a fixed-plan model')
    if len({str(m) for m in masks.values()}) > 1:
        raise ValueError(f'{name} holds two different Adaptive-RepL masks ({masks}); it was '
                         'not written by one run: use the checkpoint as the run saved it')
    mask = next(iter(masks.values()))
    try:
        backbone.set_adaptive_mask(mask)
    except ValueError as e:
        raise ValueError(f"{name}'s Adaptive-RepL mask {mask!r} does not fit the config: "
                         f'{e}') from None
    return mask


def select_blocks(scores: Sequence[Dict[int, float]], count: int) -> List[List[int]]:
    """The mask of eq. 34: exactly ``count`` candidate blocks, no two adjacent in a stage,
    of largest total score.

    Args:
        scores (Sequence[dict[int, float]]): per stage, candidate block index -> score.
        count (int): ``|F|``.

    Returns:
        list[list[int]]: the selected 0-based block indices, one sorted list per stage.

    Raises:
        ValueError: ``count`` blocks cannot be selected without two adjacent ones.
    """
    items = [(s, i, float(v)) for s, st in enumerate(scores) for i, v in sorted(st.items())]

    def after(pos: int) -> int:  # the next item that taking ``pos`` leaves selectable
        s, i, _ = items[pos]
        nxt = pos + 1
        if nxt < len(items) and items[nxt][0] == s and items[nxt][1] == i + 1:
            nxt += 1
        return nxt

    @lru_cache(maxsize=None)
    def best(pos: int, k: int) -> Optional[float]:
        if k == 0:
            return 0.0
        if pos >= len(items):
            return None
        skip = best(pos + 1, k)
        rest = best(after(pos), k - 1)
        take = None if rest is None else items[pos][2] + rest
        if take is None:
            return skip
        return take if skip is None or take >= skip else skip

    if best(0, count) is None:
        raise ValueError(f'cannot select {count} non-adjacent blocks from the candidates '
                         f'{[sorted(st) for st in scores]} (eq. 34 needs |F| sites)')
    chosen: List[List[int]] = [[] for _ in scores]
    pos, k = 0, count
    while k:
        rest = best(after(pos), k - 1)
        if rest is not None and items[pos][2] + rest == best(pos, k):
            chosen[items[pos][0]].append(items[pos][1])
            pos, k = after(pos), k - 1
        else:
            pos += 1
    return chosen


class AdaptiveRepLStage(BaseModule):
    """A residual stage with all its blocks and a computing layer per candidate block.

    Children: the blocks under their stock names ``'0'``, ``'1'``, ... and a ``ModuleDict``
    ``computing`` with the candidate's computing layers under their block index. Indexing,
    ``len`` and iteration see the blocks only (like the stock ``nn.Sequential``).

    Args:
        blocks (Sequence[nn.Module]): every block of the stage.
        layers (dict[int, nn.Module]): computing layer per candidate block index.
        selected (Sequence[int]): the initially replaced blocks.
    """

    def __init__(self, blocks: Sequence[nn.Module], layers: Dict[int, nn.Module],
                 selected: Sequence[int] = ()) -> None:
        super().__init__()  # a BaseModule: init_weights reaches blocks and layers (issue 27)
        self.num_blocks = len(blocks)
        for i, block in enumerate(blocks):
            self.add_module(str(i), block)
        self.computing = ModuleDict(OrderedDict((str(i), m) for i, m in layers.items()))
        self.selected: List[int] = []
        self.set_selected(selected)

    @property
    def candidates(self) -> List[int]:
        return sorted(int(k) for k in self.computing.keys())

    def set_selected(self, selected: Sequence[int]) -> None:
        """Sets the replaced blocks (candidates only, none adjacent)."""
        idx = sorted(int(i) for i in selected)
        bad = [i for i in idx if str(i) not in self.computing]
        if bad:
            raise ValueError(f'blocks {bad} have no computing layer; candidates: '
                             f'{self.candidates}')
        if any(b == a + 1 for a, b in zip(idx, idx[1:])):
            raise ValueError(f'adjacent blocks selected: {idx}')
        self.selected = idx

    def blocks(self) -> List[nn.Module]:
        return [self._modules[str(i)] for i in range(self.num_blocks)]

    def __len__(self) -> int:
        return self.num_blocks

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self.blocks())

    def __getitem__(self, idx):
        return self.blocks()[idx]

    def to_fixed(self) -> nn.Sequential:
        """The fixed-RepL stage of the current mask: the selected blocks dropped, their
        computing layers in their place (the ``RepLStage`` of ``replace_blocks=mask``,
        same keys), the idle computing layers discarded."""
        from ..core.stage import RepLStage
        blocks = self.blocks()
        children = OrderedDict(
            (str(i), self.computing[str(i)] if i in self.selected else b)
            for i, b in enumerate(blocks))
        return RepLStage(children) if self.selected else Sequential(children)

    def active_layers(self) -> List[nn.Module]:
        """The blocks with the selected ones replaced by their computing layers."""
        return [self.computing[str(i)] if i in self.selected else b
                for i, b in enumerate(self.blocks())]

    def forward(self, x: Tensor) -> Tensor:
        """Eq. 17 with the blocks of the current mask replaced by their computing layers."""
        layers = self.active_layers()
        for i in range(len(layers)):
            x = forward_layer(layers, i, x)
        return x


def _cosine(inp: Tensor, out: Tensor) -> Tensor:
    """Per-sample cosine similarity of a block's input and output, flattened."""
    return F.cosine_similarity(inp.flatten(1).float(), out.flatten(1).float(), dim=1)


@torch.no_grad()
def redundancy_scores(backbone: nn.Module, inputs: Tensor) -> List[Dict[int, float]]:
    """Per-candidate redundancy score: mean input-output cosine similarity on ``inputs``.

    Every block is run (the mask is lifted for this pass) in eval mode, without gradients;
    the backbone's mask and train/eval mode are restored afterwards.

    Args:
        backbone (nn.Module): an adaptive RepL backbone (:class:`AdaptiveRepLMixin`).
        inputs (Tensor): a batch of backbone inputs (images).

    Returns:
        list[dict[int, float]]: per stage, candidate block index -> score in [-1, 1].
    """
    sites = backbone.adaptive_sites()
    blocks = backbone.adaptive_blocks()
    sums: List[Dict[int, float]] = [dict() for _ in sites]
    handles = []
    for s, cands in enumerate(sites):
        for i in cands:
            def hook(module, args, output, s=s, i=i):
                sums[s][i] = _cosine(args[0], output).mean().item()
            handles.append(blocks[s][i].register_forward_hook(hook))
    mask, was_training = backbone.adaptive_mask, backbone.training
    try:
        backbone.set_adaptive_mask([[] for _ in sites])
        backbone.eval()
        backbone(inputs)
    finally:
        for h in handles:
            h.remove()
        backbone.set_adaptive_mask(mask)
        backbone.train(was_training)
    return sums


class AdaptiveRepLMixin:
    """The ``adaptive=True`` behaviour shared by the ResNet and ViT RepL mixins.

    The backbone calls :meth:`_attach_adaptive_stages` (ResNets) or
    :meth:`_attach_adaptive_vit` (ViTs) at the end of its ``__init__``, after it computed
    its fixed ``removal_plan``, which gives ``|F|`` and the initial mask.
    """

    adaptive: bool = False

    # --- construction --------------------------------------------------------------------
    def _attach_adaptive_stages(self, stage_names: Sequence[str], plan: Sequence[Sequence[int]],
                                build: Callable[[nn.Module, nn.Module, nn.Module, int],
                                                nn.Module]) -> None:
        """Replaces each stage by an :class:`AdaptiveRepLStage` with a computing layer for
        every candidate; ``build(prev, block, next, index)`` makes one (raising ValueError
        where the neighbours do not fit, e.g. a Bottleneck stage's block 1)."""
        for name, selected in zip(stage_names, plan):
            blocks = list(getattr(self, name))
            layers = {}
            for i in range(1, len(blocks) - 1):
                try:
                    layers[i] = build(blocks[i - 1], blocks[i], blocks[i + 1], i)
                except ValueError:
                    continue  # not a candidate (the transition rule)
            setattr(self, name, AdaptiveRepLStage(blocks, layers, selected))
        self.adaptive_count = sum(len(p) for p in plan)
        self._init_mask_buffer()

    def _attach_adaptive_vit(self, plan: Sequence[int],
                             build: Callable[[int], nn.Module]) -> None:
        """Adds ``adaptive_layers``: a computing layer for every internal ViT block."""
        self.adaptive_layers = ModuleDict(OrderedDict(
            (str(i), build(i)) for i in range(1, len(self.layers) - 1)))
        self.adaptive_selected: List[int] = list(plan)
        self.adaptive_count = len(plan)
        self._init_mask_buffer()

    def active_layers(self) -> List[nn.Module]:
        """ViT: ``self.layers`` with the blocks of the mask replaced by their computing
        layers (``self.layers`` itself when not adaptive)."""
        layers = list(self.layers)
        if getattr(self, 'adaptive', False):
            for i in self.adaptive_selected:
                layers[i] = self.adaptive_layers[str(i)]
        return layers

    def _log_adaptive(self, params_before: int) -> str:
        """The build log line of an adaptive backbone (rank 0, mmengine logger)."""
        from mmengine.logging import print_log
        sites = self.adaptive_sites()
        after = sum(p.numel() for p in self.parameters() if p.requires_grad)
        line = (f'{type(self).__name__}: Adaptive-RepL, all blocks kept, computing layers on '
                f'{sum(map(len, sites))} candidate blocks {sites}, |F| = '
                f'{self.adaptive_count} replaced per epoch (initial mask {self.adaptive_mask}), '
                f'{params_before:,} -> {after:,} trainable params')
        print_log(line, logger='current')
        return line

    # --- the mask --------------------------------------------------------------------------
    def _adaptive_stages(self) -> List[AdaptiveRepLStage]:
        return [getattr(self, n) for n in self.res_layers] if hasattr(self, 'res_layers') \
            else []

    def adaptive_sites(self) -> List[List[int]]:
        """Candidate block indices per stage (one stage for a ViT)."""
        if hasattr(self, 'adaptive_layers'):
            return [sorted(int(k) for k in self.adaptive_layers.keys())]
        return [st.candidates for st in self._adaptive_stages()]

    def adaptive_blocks(self) -> List[List[nn.Module]]:
        if hasattr(self, 'adaptive_layers'):
            return [list(self.layers)]
        return [st.blocks() for st in self._adaptive_stages()]

    @property
    def adaptive_mask(self) -> List[List[int]]:
        """The replaced blocks per stage (eq. 34: ``|F|`` in total)."""
        if hasattr(self, 'adaptive_layers'):
            return [list(self.adaptive_selected)]
        return [list(st.selected) for st in self._adaptive_stages()]

    def set_adaptive_mask(self, mask: Sequence[Sequence[int]]) -> None:
        """Sets the replaced blocks, one list per stage (a ViT has one stage).

        Raises:
            ValueError: wrong number of stages, a non-candidate or adjacent blocks.
        """
        sites = self.adaptive_sites()
        if len(mask) != len(sites):
            raise ValueError(f'adaptive mask needs one list per stage ({len(sites)}), '
                             f'got {mask!r}')
        if hasattr(self, 'adaptive_layers'):
            idx = sorted(int(i) for i in mask[0])
            if any(i not in sites[0] for i in idx) or \
                    any(b == a + 1 for a, b in zip(idx, idx[1:])):
                raise ValueError(f'adaptive mask {idx}: candidates are {sites[0]}, no two '
                                 'adjacent')
            self.adaptive_selected = idx
            self._write_mask_buffer()
            return
        for st, sel in zip(self._adaptive_stages(), mask):
            st.set_selected(sel)
        self._write_mask_buffer()

    # --- the mask in the state dict -----------------------------------------------------------
    def _init_mask_buffer(self) -> None:
        """Registers :data:`MASK_BUFFER`: one uint8 per candidate block (stages in order,
        candidates ascending), 1 where the block is replaced. It is saved in every state dict,
        so any loader (``load_checkpoint``, the toolboxes' inferencers, ``load_state_dict``)
        restores the mask with the weights (:meth:`adapt_to_state_dict`)."""
        n = sum(len(s) for s in self.adaptive_sites())
        self.register_buffer(MASK_BUFFER, torch.zeros(n, dtype=torch.uint8))
        self._write_mask_buffer()

    def _write_mask_buffer(self) -> None:
        buf = getattr(self, MASK_BUFFER, None)
        if buf is None:
            return
        flat = [int(i in m) for cands, m in zip(self.adaptive_sites(), self.adaptive_mask)
                for i in cands]
        with torch.no_grad():
            buf.copy_(torch.tensor(flat, dtype=torch.uint8))

    def mask_from_buffer(self, value: Tensor) -> List[List[int]]:
        """Decodes a :data:`MASK_BUFFER` tensor into the mask (one list per stage).

        Raises:
            ValueError: it does not have one entry per candidate block of this model.
        """
        sites = self.adaptive_sites()
        flat = [int(v) for v in value.flatten().tolist()]
        if len(flat) != sum(map(len, sites)):
            raise ValueError(f'{type(self).__name__}: the checkpoint\'s {MASK_BUFFER} has '
                             f'{len(flat)} entries, this model has {sum(map(len, sites))} '
                             f'candidate blocks {sites}: the config differs from the run\'s')
        out, pos = [], 0
        for cands in sites:
            out.append([i for k, i in enumerate(cands) if flat[pos + k]])
            pos += len(cands)
        return out

    def _fix_adaptive_mask(self) -> None:
        """Turns the backbone into fixed RepL with ``replace_blocks`` = the current mask
        (before a deploy fold): selected blocks dropped, idle computing layers discarded."""
        if not self.adaptive:
            return
        mask = self.adaptive_mask
        if MASK_BUFFER in self._buffers:
            del self._buffers[MASK_BUFFER]   # fixed RepL has no mask
        vit = hasattr(self, 'adaptive_layers')
        if vit:
            for i in mask[0]:
                self.layers[i] = self.adaptive_layers[str(i)]
            del self.adaptive_layers
            self.removed_blocks = list(mask[0])
        else:
            for name in self.res_layers:
                setattr(self, name, getattr(self, name).to_fixed())
        self.removal_plan = [list(m) for m in mask]
        self.replace_blocks = mask[0] if vit else mask
        self.adaptive = False

    def adapt_to_state_dict(self, state_dict, prefix: str) -> Optional[List[List[int]]]:
        """Makes an adaptive backbone ready for a state dict of itself (called by
        :func:`repl_mm.core.forms.prepare_backbone_for_state_dict` before the load).

        * A *deploy* state dict of an Adaptive-RepL model is the fixed RepL model of the mask
          it was folded with: the replaced blocks' keys are deploy-form computing-layer keys
          (``layer3.2.conv.weight``, ``layers.5.proj.weight``) where the adaptive model has the
          block's (``layer3.2.conv1.weight``). Reads that mask from the keys, sets it and fixes
          it (:meth:`_fix_adaptive_mask`); the caller then switches to the deploy form.
        * A training-form state dict restores the mask from its :data:`MASK_BUFFER` entry
          (so the toolboxes' inferencers and any ``load_checkpoint`` use the trained mask).
        * One without the entry (written before the buffer existed, an E2E / stock
          checkpoint) keeps the current mask: the entry is filled in with it so that a strict
          load does not fail on it. ``AdaptiveRepLHook``, the converter and
          :func:`repl_mm.deploy.load_deploy_model` set the mask from the checkpoint's
          ``adaptive_repl`` entry instead.

        Returns:
            The deploy mask, or None.

        Raises:
            ValueError: the keys or the entry give a mask that does not fit this model.
        """
        from ..core.forms import DEPLOY, layer_checkpoint_form
        if not is_adaptive(self):
            return None
        vit = hasattr(self, 'adaptive_layers')
        names = ['layers'] if vit else list(self.res_layers)
        layers = [self.adaptive_layers] if vit else [st.computing
                                                     for st in self._adaptive_stages()]
        mask: List[List[int]] = []
        for name, computing in zip(names, layers):
            chosen = []
            for i, layer in computing.items():
                start = f'{prefix}{name}.{i}.'
                keys = {k[len(start):] for k in state_dict if k.startswith(start)}
                if layer_checkpoint_form(layer, keys) == DEPLOY:
                    chosen.append(int(i))
            mask.append(sorted(chosen))
        key = prefix + MASK_BUFFER
        if not any(mask):
            if key in state_dict:
                found = self.mask_from_buffer(state_dict[key])
                if sum(map(len, found)) != self.adaptive_count:
                    raise ValueError(f'{type(self).__name__}: the checkpoint\'s mask {found} '
                                     f'replaces {sum(map(len, found))} blocks, this model '
                                     f'|F| = {self.adaptive_count}: the config differs from '
                                     "the run's (interval / replace_blocks)")
                self.set_adaptive_mask(found)
            elif isinstance(state_dict, dict) and any(k.startswith(prefix)
                                                      for k in state_dict):
                state_dict[key] = getattr(self, MASK_BUFFER).clone()   # keep the current one
            return None
        found = sum(map(len, mask))
        if found != self.adaptive_count:
            raise ValueError(f'{type(self).__name__}: the deploy checkpoint replaces {found} '
                             f'blocks {mask}, this Adaptive-RepL model |F| = '
                             f'{self.adaptive_count}: the config differs from the run\'s '
                             '(interval / replace_blocks)')
        self.set_adaptive_mask(mask)
        self._fix_adaptive_mask()
        from mmengine.logging import print_log
        print_log(f'{type(self).__name__}: the checkpoint is the deploy form of Adaptive-RepL '
                  f'mask {mask}; the backbone is now the fixed RepL model of that mask',
                  logger='current')
        return mask

    def adaptive_select(self, scores: Sequence[Dict[int, float]]) -> List[List[int]]:
        """Selects and sets the top-``|F|`` mask for ``scores`` (eq. 34); returns it."""
        mask = select_blocks(scores, self.adaptive_count)
        self.set_adaptive_mask(mask)
        return mask


def check_adaptive(adaptive: bool, remove_only: bool = False, deploy: bool = False) -> None:
    """Validates the ``adaptive`` backbone argument against the other RepL switches.

    Raises:
        ValueError: ``adaptive`` is not a bool, or is combined with ``remove_only`` (nothing
            would replace the masked blocks) or ``deploy`` (a deploy checkpoint is fixed
            RepL: load it with ``adaptive=False, replace_blocks=<mask>``).
    """
    if not isinstance(adaptive, bool):
        raise ValueError(f'adaptive must be True or False, got {adaptive!r}')
    if adaptive and remove_only:
        raise ValueError('adaptive=True replaces blocks by computing layers; it cannot be '
                         'combined with remove_only=True')
    if adaptive and deploy:
        raise ValueError('adaptive=True cannot build a deploy form: a deployed Adaptive-RepL '
                         'model is fixed RepL; load it with adaptive=False, '
                         'replace_blocks=<the mask of its checkpoint>, deploy=True')


#: ``Args:`` text of the ``adaptive`` argument, appended to the backbones' RepL arguments.
ADAPTIVE_ARGS_DOC = """\
        adaptive (bool): Adaptive-RepL (§IV-D1h, eq. 34, Table XV): keep every block, attach
            a computing layer to every internal block the rules allow, and replace the
            ``|F|`` blocks (``|F|`` = the size of the interval / replace_blocks plan) of a
            mask that ``repl_mm.engine.hooks.AdaptiveRepLHook`` selects every epoch
            (:mod:`repl_mm.models.adaptive`). Default False.
"""
