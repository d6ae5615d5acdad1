"""CPU distributed set-up (repl_mm.runtime.dist)."""
import socket

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from repl_mm.runtime.dist import setup_distributed

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason='checks the CPU path; with CUDA mmengine does it')


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _cfg(**kw) -> Config:
    return Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl')), **kw))


def test_none_launcher_changes_nothing():
    cfg = _cfg()
    assert setup_distributed(cfg, 'none') is False
    assert cfg.launcher == 'none' and cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg


def test_bad_launcher():
    with pytest.raises(ValueError, match="launcher must be one of \\('none', 'pytorch'"):
        setup_distributed(_cfg(), 'torchrun')


def test_missing_torchrun_env(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValueError, match='environment variable RANK'):
        setup_distributed(_cfg(), 'pytorch')


def test_pytorch_launcher_on_cpu_uses_gloo(monkeypatch):
    """A one-process group from torchrun-style variables: gloo, CPU DDP wrapper."""
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', _free_port())
    cfg = _cfg(find_unused_parameters=True)
    try:
        assert setup_distributed(cfg, 'pytorch') is True
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert dist.get_world_size() == 1
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                             broadcast_buffers=False,
                                             find_unused_parameters=True)
        # the wrapper mmengine will build from it works on CPU
        from mmengine.model import MMDistributedDataParallel
        from mmengine.registry import MODEL_WRAPPERS
        model = MODEL_WRAPPERS.build(cfg.model_wrapper_cfg,
                                     default_args=dict(module=torch.nn.Linear(2, 2)))
        assert isinstance(model, MMDistributedDataParallel) and model.device_ids is None
        # a second call (e.g. the Runner's) sees the group and leaves it alone
        assert setup_distributed(_cfg(), 'pytorch') is False
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_existing_ddp_wrapper_cfg_gets_cpu_device_ids(monkeypatch):
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', _free_port())
    cfg = _cfg(model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                      find_unused_parameters=True))
    try:
        setup_distributed(cfg, 'pytorch')
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.find_unused_parameters is True
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_slurm_env(monkeypatch):
    from repl_mm.runtime.dist import slurm_env
    for key, value in (('SLURM_PROCID', '5'), ('SLURM_NTASKS', '8'), ('SLURM_LOCALID', '1'),
                       ('SLURM_NODELIST', 'node[1-2]'), ('MASTER_ADDR', '10.0.0.1')):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv('MASTER_PORT', raising=False)
    slurm_env(port=29700)
    import os
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK'],
            os.environ['MASTER_PORT'], os.environ['MASTER_ADDR']) == \
        ('5', '8', '1', '29700', '10.0.0.1')
