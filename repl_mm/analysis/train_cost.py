"""The measured cost of a classification config's training step (paper §IV-B; eq. 42, 58):
trainable parameters, the bytes one step saves for backward and the step time, every variant
timed interleaved in one run.

One measurement for the evidence tool (:mod:`.evidence`: one row per config) and the savings
frontier (:mod:`.frontier`: one row per ``--cfg-options`` variant of one config). The batch is
random uint8 images at the config's training crop with random labels; the step is the
config's own optimizer on forward + loss + backward (:func:`~.train_step.train_step_fn`).
"""
from typing import Any, Dict, Mapping, Optional, Tuple

__all__ = ['input_size', 'build_classifier', 'data_batch', 'measure_train_steps']


def input_size(cfg) -> Tuple[int, int]:
    """The training crop of a classification config (``RandomCrop`` / ``RandomResizedCrop``
    of the train pipeline), else the backbone's ``img_size``, else 224."""
    pipeline = cfg.get('train_dataloader', {}).get('dataset', {}).get('pipeline', []) or []
    for t in pipeline:
        size = t.get('crop_size') if t.get('type') == 'RandomCrop' else \
            t.get('scale') if t.get('type') == 'RandomResizedCrop' else None
        if size is not None:
            return (size, size) if isinstance(size, int) else tuple(size)[:2]
    size = cfg.model.get('backbone', {}).get('img_size', 224)
    return (size, size) if isinstance(size, int) else tuple(size)[:2]


def build_classifier(config: str, options: Optional[Mapping[str, Any]] = None):
    """Config (plus ``options``, ``key.sub=value`` merged as given) -> (cfg, initialised
    mmpretrain model in train mode).

    Raises:
        ValueError: the config is not an mmpretrain one (names the config and its scope).
    """
    from ..adapters import build_in_scope
    from ..engine import load_config
    cfg = load_config(config)
    if cfg.get('default_scope') != 'mmpretrain':
        raise ValueError(f'{config}: the evidence tool measures mmpretrain classifiers, '
                         f"default_scope is {cfg.get('default_scope')!r}")
    if options:
        cfg.merge_from_dict(dict(options))
    model = build_in_scope(cfg.model, 'mmpretrain')
    model.init_weights()
    return cfg, model.train()


def data_batch(model, size: Tuple[int, int], batch_size: int, seed: int = 0,
               channels: int = 3) -> Dict:
    """A collated mmpretrain batch of random uint8 images (``channels`` x size) and labels
    (what the dataloader gives ``train_step``)."""
    import torch
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    classes = model.head.num_classes
    inputs = [torch.randint(0, 256, (channels, *size), generator=g, dtype=torch.uint8)
              for _ in range(batch_size)]
    samples = [DataSample().set_gt_label(int(torch.randint(classes, (1,), generator=g)))
               for _ in range(batch_size)]
    return dict(inputs=inputs, data_samples=samples)


def measure_train_steps(variants: Mapping[str, Tuple[str, Optional[Mapping[str, Any]]]],
                        batch_size: int = 64, reps: int = 5, warmup: int = 1,
                        clock: str = 'wall') -> Dict[str, Dict[str, Any]]:
    """Builds every variant, counts its trainable parameters (eq. 42) and the bytes one
    training step saves for backward (eq. 58), then times all training steps interleaved
    (:func:`~.timing.interleaved_times` with ``clock``: ``'wall'``, or ``'cpu'`` / ``'auto'``
    for the process CPU time, which other processes on a shared machine barely disturb).

    Args:
        variants: name -> ``(config file, cfg options or None)``.
        batch_size (int): images of the random batch (at the config's training crop,
            ``model.backbone.in_channels`` channels: one-channel sets such as Fashion-MNIST
            build the stem with ``in_channels=1``).
        reps, warmup (int): timed and untimed interleaved repetitions.
        clock (str): the clock of :func:`~.timing.interleaved_times`.

    Returns:
        dict: name -> ``cfg``, ``size`` (H, W), ``channels``, ``params``,
        ``activation_bytes`` and ``timing`` (a :class:`~.timing.Timing`, seconds).
    """
    from mmengine.optim import build_optim_wrapper

    from .timing import interleaved_times
    from .train_step import train_step_fn, train_step_saved_bytes, trainable_params
    out, steps = {}, {}
    for name, (config, options) in variants.items():
        cfg, model = build_classifier(config, options)
        size = input_size(cfg)
        channels = int(cfg.model.backbone.get('in_channels', 3))
        batch = data_batch(model, size, batch_size, channels=channels)
        saved = train_step_saved_bytes(model, batch)
        optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
        steps[name] = train_step_fn(model, batch, optimizer)
        out[name] = dict(cfg=cfg, size=size, channels=channels,
                         params=trainable_params(model), activation_bytes=saved.total)
    for name, t in interleaved_times(steps, reps=reps, warmup=warmup, clock=clock).items():
        out[name]['timing'] = t
    return out
