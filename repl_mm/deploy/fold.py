"""Deploy re-parameterization of whole models (paper §IV-D1e, eq. 32-33).

Follows mmpretrain's ``tools/model_converters/reparameterize_model.py``: build the model from
its config, load the trained checkpoint, call ``switch_to_deploy()`` on the backbone, save the
weights with the source checkpoint's ``meta`` (class names in ``dataset_meta``, the config
text, epoch / iter) plus ``repl_deploy=True``. Beyond it, :func:`reparameterize_checkpoint`

* refuses to overwrite the source (also through a symlink or another relative path) and an
  existing destination unless ``force=True``, and writes atomically (temporary file + rename);
* refuses a checkpoint that is already in the deploy form, one of another architecture and an
  unreadable file, naming the file and what to do;
* compares the model **as trained** with the deploy form on a random input in eval mode and
  refuses to write a deploy checkpoint whose outputs differ by more than ``tolerance``;
* folds an Adaptive-RepL checkpoint with the mask it was trained with
  (``checkpoint['adaptive_repl']``, :func:`repl_mm.models.adaptive.checkpoint_adaptive_mask`),
  refuses one without a mask, and records the folded plan in the deploy checkpoint's
  ``meta['repl_plan']`` (plus ``meta['repl_adaptive_mask']``).

A deploy checkpoint loads with the training config as it is: the backbone recognises the
deploy-form keys and switches itself (:mod:`repl_mm.core.forms`).
"""
import copy
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..core.forms import DEPLOY, CheckpointFormError, detect_checkpoint_form
from ..models.adaptive import checkpoint_adaptive_mask, is_adaptive

__all__ = ['switch_model_to_deploy', 'reparameterize_checkpoint', 'ReparamResult',
           'load_checkpoint_file', 'check_output_path', 'atomic_save', 'flatten_tensors',
           'max_relative_difference', 'build_model_from_config', 'DEPLOY_META_KEYS',
           'load_deploy_model', 'folded_plan', 'check_recorded_plan']

#: ``meta`` entries written by mmengine's Runner that the deploy checkpoint keeps
DEPLOY_META_KEYS = ('dataset_meta', 'cfg', 'epoch', 'iter', 'seed', 'experiment_name', 'time',
                    'mmengine_version')


def switch_model_to_deploy(model: nn.Module) -> nn.Module:
    """Calls ``switch_to_deploy()`` on ``model.backbone`` (or on ``model`` itself).

    Raises:
        ValueError: if neither has ``switch_to_deploy`` (not a RepL model).
    """
    target = getattr(model, 'backbone', model)
    if not hasattr(target, 'switch_to_deploy'):
        raise ValueError(f'{type(target).__name__} has no switch_to_deploy(): the model must '
                         'have a RepL backbone (e.g. type=ResNetRepL or VisionTransformerRepL)')
    target.switch_to_deploy()
    return model


@dataclass
class ReparamResult:
    """What :func:`reparameterize_checkpoint` did.

    Attributes:
        dst (str): the written deploy checkpoint.
        max_rel_diff (float): ``max |y_train - y_deploy| / max |y_train|`` over every output
            tensor of the model on the random input (eval mode).
        input_shape (tuple): the random input's shape ``(N, C, H, W)``.
        meta (dict): the deploy checkpoint's ``meta``.
        model (nn.Module): the deploy-form model.
    """
    dst: str
    max_rel_diff: float
    input_shape: Tuple[int, ...]
    meta: Dict[str, Any] = field(default_factory=dict)
    model: Optional[nn.Module] = None


def check_output_path(src: str, dst: str, force: bool = False, arg: str = 'dst') -> None:
    """Refuses ``dst == src`` (after resolving symlinks and relative paths) and an existing
    ``dst`` unless ``force``.

    Args:
        src (str): the input file.
        dst (str): the output file.
        force (bool): allow replacing an existing ``dst`` that is not ``src``.
        arg (str): the argument name used in the errors.

    Raises:
        ValueError: ``dst`` is ``src``.
        FileExistsError: ``dst`` exists and ``force`` is False.
    """
    same = osp.realpath(src) == osp.realpath(dst)
    if not same and osp.exists(src) and osp.exists(dst):
        same = osp.samefile(src, dst)
    if same:
        raise ValueError(f'{arg} {dst!r} is the input checkpoint {src!r}: writing it would '
                         'destroy the trained checkpoint (optimizer state, epoch). Choose another '
                         f'{arg} path; nothing was written')
    if osp.exists(dst) and not force:
        raise FileExistsError(f'{arg} {dst!r} exists; pass --force to replace it (nothing was '
                              'written)')


def atomic_save(obj: Any, dst: str) -> None:
    """``torch.save`` through :func:`repl_mm.utils.atomic_write.atomic_write` (temporary file,
    fsync, rename, directory fsync): a crash leaves either the old file or the new one, never a
    truncated one."""
    from ..utils.atomic_write import atomic_write
    atomic_write(dst, lambda f: torch.save(obj, f))


def load_checkpoint_file(path: str) -> Dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True`` (:mod:`repl_mm.engine.fileio.safe_load`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable checkpoint (truncated, corrupted, not a dict).
        UnsafeCheckpointError: it pickles objects outside the mmengine allowlist.
    """
    from ..engine.fileio.safe_load import UnsafeCheckpointError, safe_torch_load
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist')
    try:
        ckpt = safe_torch_load(path, map_location='cpu', filename=path)
    except UnsafeCheckpointError:
        raise
    except Exception as e:  # torch raises RuntimeError, EOFError, zipfile errors ...
        raise ValueError(f'checkpoint {path!r} cannot be read ({type(e).__name__}: {e}); it is '
                         'truncated or corrupted: copy it again or use another one') from None
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint {path!r} holds a {type(ckpt).__name__}, not a dict with '
                         'a state_dict')
    return ckpt


def _state_dict(ckpt: Dict[str, Any]) -> Dict[str, Tensor]:
    sd = ckpt.get('state_dict', ckpt)
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}


def build_model_from_config(config: str, cfg_options: Optional[dict] = None,
                            deploy: Optional[bool] = None) -> Tuple[nn.Module, Any]:
    """Builds ``config``'s model (its toolbox scope, ``init_cfg`` off) on the CPU.

    Args:
        config (str): the config file.
        cfg_options (dict, optional): overrides.
        deploy (bool, optional): force ``model.backbone.deploy`` to this value.

    Returns:
        (model, cfg)
    """
    from ..adapters.build import build_in_scope
    from ..engine.runner.build import load_config
    from ..utils.inputs import check_config_file, one_line
    check_config_file(config)
    cfg = load_config(config, cfg_options)
    model_cfg = cfg.model.copy()
    backbone = model_cfg.get('backbone', None)
    if backbone is not None:
        if backbone.get('init_cfg') is not None:
            backbone.init_cfg = None   # the weights come from the checkpoint
        if deploy is not None:
            backbone.deploy = deploy
    model_cfg.pop('pretrained', None)
    if cfg.get('data_preprocessor') is not None:  # mmpretrain configs: as the Runner merges it
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    try:
        model = build_in_scope(model_cfg, cfg.default_scope)
    except KeyError as e:   # an unknown type: the registry names it
        raise ValueError(f'config {config!r}: {one_line(e)}') from None
    return model, cfg


def flatten_tensors(out: Any) -> List[Tensor]:
    """Every tensor of a (nested) model output, in order."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in flatten_tensors(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in flatten_tensors(v)]
    return []


def max_relative_difference(ref: Sequence[Tensor], got: Sequence[Tensor]) -> float:
    """``max_i max |ref_i - got_i| / max |ref_i|`` (0 where both are 0).

    Raises:
        ValueError: the outputs differ in number or shape.
    """
    if len(ref) != len(got):
        raise ValueError(f'{len(ref)} reference outputs but {len(got)} compared outputs')
    worst = 0.0
    for a, b in zip(ref, got):
        if a.shape != b.shape:
            raise ValueError(f'output shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}')
        a, b = a.detach().double(), b.detach().double()
        scale = a.abs().max().item()
        diff = (a - b).abs().max().item()
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def model_input_shape(cfg: Any, size: Optional[Sequence[int]] = None,
                      batch: int = 2) -> Tuple[int, int, int, int]:
    """``(batch, 3, H, W)``: ``size`` if given, else the ViT's ``img_size``, else 224."""
    if size is None:
        img_size = cfg.model.get('backbone', {}).get('img_size', 224)
        size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    if len(size) == 1:
        size = (size[0], size[0])
    return (batch, 3, int(size[0]), int(size[1]))


@torch.no_grad()
def tensor_outputs(model: nn.Module, x: Tensor) -> List[Tensor]:
    """The model's raw output tensors (``mode='tensor'``: logits, FPN/head maps)."""
    return flatten_tensors(model(x, mode='tensor'))


def reparameterize_checkpoint(config: str, src: str, dst: str,
                              cfg_options: Optional[dict] = None, force: bool = False,
                              input_size: Optional[Sequence[int]] = None,
                              tolerance: float = 1e-4, seed: int = 0) -> ReparamResult:
    """Builds ``config``'s model, loads ``src``, re-parameterizes it (eq. 32-33), checks it and
    saves ``dst``.

    The saved file holds only tensors and plain Python values (``{'state_dict', 'meta'}``), so
    it loads with ``torch.load(weights_only=True)``; ``meta`` keeps the source's
    :data:`DEPLOY_META_KEYS` and adds ``repl_deploy=True``, ``repl_source`` (absolute path of
    ``src``), ``repl_config``, ``repl_plan`` (the removal plan folded, one list per stage) and,
    for an Adaptive-RepL checkpoint, ``repl_adaptive_mask`` (the mask it was trained with,
    which is the folded plan).

    The reference of the check is the model as trained: for Adaptive-RepL the checkpoint's
    mask is applied before the reference outputs are taken, so a fold with any other mask
    fails the check.

    Args:
        config (str): the config ``src`` was trained with (training or deploy form).
        src (str): the trained (training-form) checkpoint.
        dst (str): where to write the deploy checkpoint; never ``src``.
        cfg_options (dict, optional): config overrides.
        force (bool): replace an existing ``dst``.
        input_size (Sequence[int], optional): ``(H, W)`` of the random check input.
        tolerance (float): largest allowed max relative difference between the two forms.
        seed (int): seed of the random check input.

    Raises:
        ValueError: ``dst`` is ``src``; ``src`` is unreadable, already deploy-form, or of
            another architecture than ``config``; the forms differ by more than ``tolerance``;
            an Adaptive-RepL checkpoint has no mask (or a training config / checkpoint pair
            disagrees about being adaptive).
        FileExistsError: ``dst`` exists and ``force`` is False.
    """
    from ..utils.inputs import check_config_file
    check_config_file(config)
    check_output_path(src, dst, force)
    ckpt = load_checkpoint_file(src)
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    if meta.get('repl_deploy'):
        raise ValueError(f'checkpoint {src!r} is already a deploy checkpoint (meta.repl_deploy); '
                         'evaluate it directly: python tools/test.py CONFIG ' + src)
    state_dict = _state_dict(ckpt)
    model, cfg = build_model_from_config(config, cfg_options, deploy=False)
    backbone = getattr(model, 'backbone', model)
    if not hasattr(backbone, 'switch_to_deploy'):
        raise ValueError(f'config {config!r} builds {type(backbone).__name__}, which has no '
                         'switch_to_deploy(): pass the config of the RepL model (type=...RepL)')
    prefix = 'backbone.' if backbone is not model else ''
    if detect_checkpoint_form(backbone, state_dict, prefix) == DEPLOY:
        raise ValueError(f'checkpoint {src!r} is already in the deploy form (its computing '
                         'layers hold folded weights); evaluate it directly: python '
                         f'tools/test.py {config} {src}')
    adaptive_mask = checkpoint_adaptive_mask(backbone, ckpt, f'checkpoint {src!r}')
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, CheckpointFormError) as e:
        raise ValueError(f'checkpoint {src!r} does not fit config {config!r}: '
                         f'{str(e).strip()[:1500]}\nPass the config the checkpoint was trained '
                         'with') from None
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    if callable(getattr(model, 'random_inputs', None)):  # e.g. token ids of the language model
        x = model.random_inputs(2, gen)
        shape = tuple(x.shape)
    else:
        shape = model_input_shape(cfg, input_size)
        x = torch.randn(shape, generator=gen)
    trained = copy.deepcopy(model)   # the model as trained (Adaptive-RepL: its mask applied)
    ref = tensor_outputs(trained, x)
    switch_model_to_deploy(model)
    got = tensor_outputs(model, x)
    diff = max_relative_difference(ref, got)
    if not diff <= tolerance:
        raise ValueError(f'the deploy form of {src!r} differs from the training form by a max '
                         f'relative difference of {diff:.3e} > tolerance {tolerance:g} on a '
                         f'random {shape} input; nothing was written')
    new_meta = {k: meta[k] for k in DEPLOY_META_KEYS if k in meta}
    if 'cfg' not in new_meta:
        new_meta['cfg'] = cfg.pretty_text
    new_meta.update(repl_deploy=True, repl_source=osp.abspath(src),
                    repl_config=osp.abspath(config), repl_plan=folded_plan(model))
    if adaptive_mask is not None:
        new_meta['repl_adaptive_mask'] = adaptive_mask
    atomic_save({'state_dict': model.state_dict(), 'meta': new_meta}, dst)
    return ReparamResult(dst=dst, max_rel_diff=diff, input_shape=shape, meta=new_meta,
                         model=model)


def folded_plan(model: nn.Module) -> Optional[List[List[int]]]:
    """The removal plan of ``model``'s RepL backbone (one list of 0-based block indices per
    stage), or None if it has none."""
    plan = getattr(getattr(model, 'backbone', model), 'removal_plan', None)
    return None if plan is None else [[int(i) for i in st] for st in plan]


def check_recorded_plan(model: nn.Module, meta: Dict[str, Any], checkpoint: str) -> None:
    """Refuses a deploy checkpoint whose recorded ``meta['repl_plan']`` differs from the
    plan the loaded model has."""
    recorded = meta.get('repl_plan') if isinstance(meta, dict) else None
    have = folded_plan(model)
    if recorded is not None and have is not None and \
            [list(map(int, p)) for p in recorded] != have:
        raise ValueError(f'checkpoint {checkpoint!r} was folded with the plan {recorded} but '
                         f'the model loaded from it replaces {have}: pass the config the '
                         'checkpoint was trained with')


def load_deploy_model(config: str, checkpoint: str, cfg_options: Optional[dict] = None,
                      to_deploy: bool = True) -> Tuple[nn.Module, Any]:
    """Builds ``config``'s model, loads ``checkpoint`` (either form: a deploy checkpoint
    switches the backbone, :mod:`repl_mm.core.forms`) and returns it in eval mode, in the
    deploy form if ``to_deploy``.

    An Adaptive-RepL training checkpoint is evaluated and folded with the mask it was trained
    with (``checkpoint['adaptive_repl']``); one without a mask is refused. A deploy checkpoint
    loads with its training config (adaptive or not) and must match the plan it records.

    Raises:
        ValueError: the checkpoint is unreadable, of the wrong form for the config, or does
            not fit the config's architecture (the message names the file and the fix); an
            adaptive checkpoint without its mask.
    """
    from mmengine.runner import load_checkpoint

    from ..engine.fileio.safe_load import CorruptCheckpointError
    if not osp.isfile(checkpoint):
        raise ValueError(f'checkpoint {checkpoint!r} does not exist')
    model, cfg = build_model_from_config(config, cfg_options)
    try:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    except (CheckpointFormError, CorruptCheckpointError) as e:
        raise ValueError(f'checkpoint {checkpoint!r}: {e}') from None
    except RuntimeError as e:
        raise ValueError(f'checkpoint {checkpoint!r} does not fit config {config!r}: '
                         f'{str(e).strip()[:1500]}\nPass the config the checkpoint was trained '
                         'with') from None
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    if isinstance(meta, dict) and meta.get('dataset_meta'):
        model.dataset_meta = meta['dataset_meta']
    backbone = getattr(model, 'backbone', model)
    if is_adaptive(backbone) or (isinstance(ckpt, dict) and 'adaptive_repl' in ckpt):
        checkpoint_adaptive_mask(backbone, ckpt, f'checkpoint {checkpoint!r}')
    check_recorded_plan(model, meta, checkpoint)
    model.eval()
    if to_deploy and hasattr(backbone, 'switch_to_deploy') and not getattr(backbone, 'deploy',
                                                                            False):
        backbone.switch_to_deploy()
    return model, cfg
