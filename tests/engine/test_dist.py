"""CPU distributed set-up (repl_mm.engine.runner.dist)."""
import socket

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from repl_mm.engine.runner import dist as dist_module
from repl_mm.engine.runner.dist import NoGPUError, setup_distributed
from repl_mm.utils.envcheck import cpu_dist_problem

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


@pytest.fixture
def allow_cpu(monkeypatch):
    monkeypatch.setenv('REPL_MM_ALLOW_CPU_DIST', '1')


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm'])
@pytest.mark.parametrize('value', [None, '0', 'yes'])
def test_cpu_launch_refused_without_opt_in(monkeypatch, launcher, value):
    """No silent CPU fallback: only REPL_MM_ALLOW_CPU_DIST=1 lets a CPU multi-process run start;
    the refusal comes before any process group or config change."""
    if value is None:
        monkeypatch.delenv('REPL_MM_ALLOW_CPU_DIST', raising=False)
    else:
        monkeypatch.setenv('REPL_MM_ALLOW_CPU_DIST', value)
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    cfg = _cfg()
    with pytest.raises(NoGPUError) as e:
        setup_distributed(cfg, launcher)
    msg = str(e.value)
    assert msg.startswith(f"launcher='{launcher}': no GPU is visible to torch")
    assert "CUDA_VISIBLE_DEVICES=''" in msg and 'driver' in msg
    assert msg.endswith('set REPL_MM_ALLOW_CPU_DIST=1.')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg
    assert not dist.is_initialized()


def test_cpu_dist_problem_decisions():
    assert cpu_dist_problem('none', False, {}) is None
    assert cpu_dist_problem('pytorch', True, {}) is None  # a GPU: nothing to refuse
    assert cpu_dist_problem('pytorch', False, {'REPL_MM_ALLOW_CPU_DIST': '1'}) is None
    msg = cpu_dist_problem('slurm', False, {})
    assert 'CUDA_VISIBLE_DEVICES is unset' in msg and 'tools/check_env.py' in msg


def test_missing_torchrun_env(monkeypatch, allow_cpu):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValueError, match='environment variable RANK'):
        setup_distributed(_cfg(), 'pytorch')


def test_pytorch_launcher_on_cpu_uses_gloo(monkeypatch, allow_cpu):
    """A one-process group from torchrun-style variables: gloo, CPU DDP wrapper; with the
    opt-in, rank 0 logs one line saying so."""
    logged = []
    monkeypatch.setattr(dist_module, 'print_log', lambda msg, **kw: logged.append(msg))
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
        assert logged == ["launcher='pytorch': no GPU visible to torch and "
                          'REPL_MM_ALLOW_CPU_DIST=1: this run uses CPU processes on gloo '
                          '(world size 1)']
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
        assert len(logged) == 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_existing_ddp_wrapper_cfg_gets_cpu_device_ids(monkeypatch, allow_cpu):
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
    from repl_mm.engine.runner.dist import slurm_env
    for key, value in (('SLURM_PROCID', '5'), ('SLURM_NTASKS', '8'), ('SLURM_LOCALID', '1'),
                       ('SLURM_NODELIST', 'node[1-2]'), ('MASTER_ADDR', '10.0.0.1')):
        monkeypatch.setenv(key, value)
    # slurm_env sets these in os.environ: set through monkeypatch first, so that they are
    # removed again after the test (a RANK=5 left behind silences the rank-0 output of every
    # later data check); monkeypatch.delenv alone records nothing for an absent variable
    for key in ('MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.setenv(key, 'set-by-test_slurm_env')
    monkeypatch.delenv('MASTER_PORT')
    slurm_env(port=29700)
    import os
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK'],
            os.environ['MASTER_PORT'], os.environ['MASTER_ADDR']) == \
        ('5', '8', '1', '29700', '10.0.0.1')
