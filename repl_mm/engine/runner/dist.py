"""Distributed set-up that also works without GPUs (gloo on CPU), on request only.

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, and its Runner wraps
the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a machine without CUDA. With a
GPU nothing here changes mmengine's behaviour (NCCL, one device per process). Without one,
:func:`setup_distributed` initialises a gloo process group from the launcher's environment
before the Runner is built -- ``Runner.setup_env`` then skips ``init_dist`` because a group
exists -- and makes the DDP wrapper a CPU one (``device_ids=None``).

No silent CPU fallback: a torchrun / slurm launch on a machine where torch sees no GPU is
refused (:class:`NoGPUError`, naming the likely causes) unless ``REPL_MM_ALLOW_CPU_DIST=1`` is
set; then one log line says the run is on CPU processes with gloo.
"""
import logging
import os
import subprocess
from datetime import timedelta
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

from ...utils.envcheck import ALLOW_CPU_DIST_ENV, cpu_dist_problem

__all__ = ['LAUNCHERS', 'ALLOW_CPU_DIST_ENV', 'NoGPUError', 'setup_distributed', 'slurm_env']

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


class NoGPUError(RuntimeError):
    """A multi-process launch where torch sees no GPU, without ``REPL_MM_ALLOW_CPU_DIST=1``."""


def slurm_env(port: Optional[int] = None) -> None:
    """Sets ``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` from the
    slurm variables, exactly like ``mmengine.dist.utils._init_dist_slurm`` does."""
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    local_rank = int(os.environ.get('SLURM_LOCALID', proc_id))
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['LOCAL_RANK'] = str(local_rank)
    os.environ['RANK'] = str(proc_id)


def setup_distributed(cfg: Config, launcher: str) -> bool:
    """Prepares ``cfg`` (and, on CPU, the process group) for ``launcher``.

    Args:
        cfg (Config): the run's config; ``cfg.launcher`` is set to ``launcher``. On CPU its
            ``env_cfg.dist_cfg.backend`` becomes ``'gloo'`` and its ``model_wrapper_cfg`` gets
            ``device_ids=None``.
        launcher (str): one of :data:`LAUNCHERS`.

    Returns:
        bool: True when this call initialised a CPU (gloo) process group.

    Raises:
        NoGPUError: ``launcher`` is 'pytorch' or 'slurm', torch sees no GPU and the environment
            variable ``REPL_MM_ALLOW_CPU_DIST`` is not ``1``.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher == 'mpi':
        raise ValueError("launcher='mpi' needs CUDA devices; on CPU use launcher 'pytorch' "
                         "(tools/dist_train.sh) or 'slurm'")
    problem = cpu_dist_problem(launcher, cuda_available=False)
    if problem is not None:
        raise NoGPUError(problem)
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    else:
        from mmengine.registry import MODEL_WRAPPERS
        from torch.nn.parallel import DistributedDataParallel
        wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
        wrapper_cls = (MODEL_WRAPPERS.get(wrapper_type) if isinstance(wrapper_type, str)
                       else wrapper_type)
        if isinstance(wrapper_cls, type) and issubclass(wrapper_cls, DistributedDataParallel):
            wrapper.setdefault('device_ids', None)
    if torch_dist.is_available() and torch_dist.is_initialized():
        return False
    if launcher == 'slurm':
        slurm_env(dist_cfg.get('port', None))
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if key not in os.environ:
            raise ValueError(f"launcher={launcher!r} needs the environment variable {key} "
                             f'(set by torchrun / tools/dist_train.sh or by slurm)')
    os.environ.setdefault('LOCAL_RANK', os.environ['RANK'])
    if os.environ['RANK'] == '0':
        print_log(f'launcher={launcher!r}: no GPU visible to torch and {ALLOW_CPU_DIST_ENV}=1: '
                  f'this run uses CPU processes on gloo (world size '
                  f'{os.environ["WORLD_SIZE"]})',
                  logger='current', level=logging.WARNING)
    timeout = dist_cfg.get('timeout', None)
    kwargs = {} if timeout is None else {'timeout': timedelta(seconds=timeout)}
    torch_dist.init_process_group(backend='gloo', init_method='env://',
                                  rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    return True
