"""Subprocess helpers of the cluster tests (issue 30)."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import torch

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
RUN = osp.join(HERE, 'cluster_run.py')


def free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def env(**extra) -> dict:
    e = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    e.update(extra)
    return e


def launch(spec: dict, world: int = 1):
    """One ``cluster_run.py`` process per rank; rank 0's stdout is a pipe (``ITER n``)."""
    port = free_port()
    procs = []
    for rank in range(world):
        extra = {}
        if world > 1:
            extra = dict(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                         MASTER_ADDR='127.0.0.1', MASTER_PORT=port)
        procs.append(subprocess.Popen(
            ['nice', sys.executable, RUN, json.dumps(spec)], cwd=ROOT, env=env(**extra),
            stdout=subprocess.PIPE if rank == 0 else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if rank == 0 else subprocess.DEVNULL, text=True))
    return procs


def wait_for_line(proc, text: str, timeout: float = 300) -> list:
    lines, end = [], time.time() + timeout
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            return lines
        if time.time() > end:
            break
    raise AssertionError(f'{text!r} never printed:\n' + ''.join(lines[-30:]))


def finish(procs, timeout: float = 600):
    out = procs[0].communicate(timeout=timeout)[0] or ''
    codes = [p.wait(timeout=timeout) for p in procs]
    return codes, out


def run(spec: dict, world: int = 1):
    codes, out = finish(launch(spec, world))
    assert codes == [0] * world, out[-3000:]
    return out


def tensors(path: str) -> dict:
    """Every tensor of a checkpoint: the weights and the optimizer state."""
    from repl_mm.engine import safe_torch_load
    ckpt = safe_torch_load(path)
    out = {f'state_dict.{k}': v for k, v in ckpt['state_dict'].items()}
    for pid, state in ckpt['optimizer']['state'].items():
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                out[f'optimizer.{pid}.{k}'] = v
    return out


def differing(a: str, b: str) -> list:
    ta, tb = tensors(a), tensors(b)
    assert sorted(ta) == sorted(tb)
    return [k for k in ta if not torch.equal(ta[k], tb[k])]
