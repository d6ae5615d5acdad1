"""Fake nvidia-smi / nvcc executables for the install tests (tests/tools/test_envcheck.py,
test_install_script.py)."""
import os
import os.path as osp

from repl_mm.utils.envcheck import Gpu

H100 = Gpu('NVIDIA H100 80GB HBM3', '575.57.08', '9.0')
A100 = Gpu('NVIDIA A100-SXM4-40GB', '575.57.08', '8.0')


def write_exe(directory, name: str, body: str) -> str:
    os.makedirs(directory, exist_ok=True)
    path = osp.join(str(directory), name)
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n' + body + '\n')
    os.chmod(path, 0o755)
    return path


def fake_nvidia_smi(directory, gpus=(H100, ), driver_cuda='12.9', fail=None,
                    no_compute_cap=False) -> str:
    """An nvidia-smi answering the two queries envcheck asks (or failing like a driver that
    is not loaded)."""
    if fail:
        return write_exe(directory, 'nvidia-smi', f'echo "{fail}"; exit 9')
    rows = '\\n'.join(f'{g.name}, {g.driver}, {g.compute_cap}' for g in gpus)
    rows_nocap = '\\n'.join(f'{g.name}, {g.driver}' for g in gpus)
    cap_branch = ('echo "Field \\"compute_cap\\" is not a valid field to query."; exit 2'
                  if no_compute_cap else f'printf "{rows}\\n"; exit 0')
    return write_exe(directory, 'nvidia-smi', f'''case "$1" in
  --query-gpu=name,driver_version,compute_cap) {cap_branch};;
  --query-gpu=name,driver_version) printf "{rows_nocap}\\n"; exit 0;;
  *) echo "| NVIDIA-SMI 575.57.08   Driver Version: 575.57.08   CUDA Version: {driver_cuda} |";;
esac''')


def fake_nvcc(directory, release: str) -> str:
    return write_exe(directory, 'nvcc', 'echo "nvcc: NVIDIA (R) Cuda compiler driver"; '
                     f'echo "Cuda compilation tools, release {release}, V{release}.99"')
