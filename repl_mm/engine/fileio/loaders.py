"""Safe (``weights_only``) loaders for every checkpoint scheme mmengine has, registered through
mmengine's extension point ``CheckpointLoader.register_scheme(prefixes=..., force=True)``.

mmengine's own loaders call ``torch.load`` without ``weights_only`` (torch >= 2.6: True, so an
mmengine training checkpoint does not load; ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` or
onedl-mmengine's fallback: False, so a downloaded file can run code). Each loader here reads the
same place as mmengine's and unpickles with :func:`~.safe_load.safe_torch_load`:

=====================================  ======================================================
prefixes                               source
=====================================  ======================================================
``''`` (a local path)                  the file (``resume``, ``load_from``, ``Pretrained``)
``http://``, ``https://``              downloaded to the torch hub cache, then loaded
``modelzoo://``, ``torchvision://``    torchvision's model URLs (as mmengine maps them)
``open-mmlab://``, ``openmmlab://``    mmengine's model zoo: a URL or a file under
                                       ``$MMENGINE_HOME``
``mmcls://``                           mmcls model URLs, keys converted as mmengine does
``pavi://``                            pavi model cloud
``(\\S+:)?s3://``, ``(\\S+:)?petrel://``  the petrel / s3 file backend
=====================================  ======================================================

:func:`register_safe_schemes` registers them; importing :mod:`repl_mm.engine` (and so
``import repl_mm``) calls it -- a registry entry per prefix, no mmengine function replaced.
Schemes other packages register under other prefixes are left alone.
"""
import io
import logging
import os
import os.path as osp
from tempfile import TemporaryDirectory
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import urlparse

import torch
from mmengine.logging import print_log

from .safe_load import NotACheckpointError, safe_torch_load

__all__ = ['SAFE_SCHEMES', 'register_safe_schemes', 'safe_schemes_registered',
           'load_from_local', 'load_from_http', 'load_from_torchvision', 'load_from_openmmlab',
           'load_from_mmcls', 'load_from_pavi', 'load_from_ceph', 'load_url']


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """A local checkpoint file (mmengine's prefix ``''``), loaded weights-only."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location, filename)


def load_url(url: str, model_dir: Optional[str] = None, map_location: Any = None,
             progress: bool = True, check_hash: bool = False,
             file_name: Optional[str] = None, **kwargs) -> Any:
    """``torch.hub.load_state_dict_from_url`` with the safe load (its default is
    ``weights_only=False`` where ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set): downloads to the
    hub cache like torch does, then :func:`safe_torch_load` on the cached file; errors name the
    URL and the cached file."""
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, file_name or osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        print_log(f'Downloading: "{url}" to {cached}', logger='current')
        match = torch.hub.HASH_REGEX.search(osp.basename(cached)) if check_hash else None
        torch.hub.download_url_to_file(url, cached, match.group(1) if match else None,
                                       progress=progress)
    try:
        return safe_torch_load(cached, map_location, f'{url} (cached as {cached})')
    except NotACheckpointError as e:
        raise NotACheckpointError(f'{e} Delete the cached file {cached} to download it '
                                  'again.') from None


def load_from_http(filename: str, map_location: Any = None, model_dir: Optional[str] = None,
                   progress: bool = False) -> Any:
    """``http://`` / ``https://``: rank 0 downloads first, the other ranks after a barrier (as
    mmengine does), every rank loads weights-only."""
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    checkpoint = None
    if rank == 0:
        checkpoint = load_url(filename, model_dir=model_dir, map_location=map_location,
                              progress=progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load_url(filename, model_dir=model_dir, map_location=map_location,
                                  progress=progress)
    return checkpoint


def load_from_torchvision(filename: str, map_location: Any = None) -> Any:
    """``torchvision://NAME`` (``modelzoo://NAME`` deprecated): torchvision's URL for NAME."""
    from mmengine.runner.checkpoint import get_torchvision_models
    if filename.startswith('modelzoo://'):
        print_log('The URL scheme of "modelzoo://" is deprecated, please use "torchvision://" '
                  'instead', logger='current', level=logging.WARNING)
        model_name = filename[len('modelzoo://'):]
    else:
        model_name = filename[len('torchvision://'):]
    return load_from_http(get_torchvision_models()[model_name], map_location=map_location)


def load_from_openmmlab(filename: str, map_location: Any = None) -> Any:
    """``open-mmlab://NAME`` / ``openmmlab://NAME``: a URL, or a file under
    ``$MMENGINE_HOME``, from mmengine's model zoo list."""
    from mmengine.runner import checkpoint as ckpt_mod
    prefix = 'open-mmlab://' if filename.startswith('open-mmlab://') else 'openmmlab://'
    model_name = filename[len(prefix):]
    deprecated = ckpt_mod.get_deprecated_model_names()
    if model_name in deprecated:
        print_log(f'{prefix}{model_name} is deprecated in favor of '
                  f'{prefix}{deprecated[model_name]}', logger='current', level=logging.WARNING)
        model_name = deprecated[model_name]
    model_url = ckpt_mod.get_external_models()[model_name]
    if model_url.startswith(('http://', 'https://')):
        return load_from_http(model_url, map_location=map_location)
    path = osp.join(ckpt_mod._get_mmengine_home(), model_url)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    return safe_torch_load(path, map_location, f'{filename} ({path})')


def load_from_mmcls(filename: str, map_location: Any = None) -> Any:
    """``mmcls://NAME``: the mmcls URL for NAME; keys converted as mmengine does."""
    from mmengine.runner.checkpoint import _process_mmcls_checkpoint, get_mmcls_models
    checkpoint = load_from_http(get_mmcls_models()[filename[len('mmcls://'):]],
                                map_location=map_location)
    return _process_mmcls_checkpoint(checkpoint)


def load_from_pavi(filename: str, map_location: Any = None) -> Any:
    """``pavi://PATH``: downloaded from the pavi model cloud to a temporary directory."""
    if not filename.startswith('pavi://'):
        raise ValueError(f'Expected filename startswith `pavi://`, but get {filename}')
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return safe_torch_load(downloaded, map_location, filename)


def load_from_ceph(filename: str, map_location: Any = None, backend: str = 'petrel') -> Any:
    """``s3://`` / ``petrel://`` (optionally ``NAME:s3://``): read through mmengine's file
    backend."""
    from mmengine.fileio import get_file_backend
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return safe_torch_load(buffer, map_location, filename)


#: prefixes -> loader, for every scheme mmengine (0.10.x, onedl 0.10.12) registers
SAFE_SCHEMES: Dict[Tuple[str, ...], Callable] = {
    ('',): load_from_local,
    ('http://', 'https://'): load_from_http,
    ('modelzoo://', 'torchvision://'): load_from_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_from_openmmlab,
    ('mmcls://',): load_from_mmcls,
    ('pavi://',): load_from_pavi,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_ceph,
}


def register_safe_schemes() -> None:
    """Registers :data:`SAFE_SCHEMES` with ``CheckpointLoader.register_scheme(..., force=True)``
    (a registry entry per prefix; idempotent)."""
    from mmengine.runner import CheckpointLoader
    for prefixes, loader in SAFE_SCHEMES.items():
        CheckpointLoader.register_scheme(prefixes=list(prefixes), loader=loader, force=True)


def safe_schemes_registered() -> bool:
    """Whether every prefix of :data:`SAFE_SCHEMES` maps to its safe loader (another package
    may have registered its own loader since)."""
    from mmengine.runner import CheckpointLoader
    schemes = CheckpointLoader._schemes
    return all(schemes.get(p) is loader for prefixes, loader in SAFE_SCHEMES.items()
               for p in prefixes)
