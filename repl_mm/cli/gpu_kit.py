"""``make gpu-kit``: the offline kit for a GPU machine that has torch (CUDA 13), Python 3.12,
numpy 2 and nvcc but no package registry (issue 24 item 6): the wheels for CPython 3.12 x86_64
(manylinux) it lacks -- mmengine, the three toolboxes, their pure and binary dependencies,
setuptools < 81 and ninja for the mmcv build -- and the mmcv 2.1.0 source archive, in one
folder of at most 64 MiB, with ``requirements.txt`` (what to install) and ``kit.json`` (sizes,
what was left out and must already be on the machine).

What the machine has is not downloaded (torch, numpy, the nvidia/triton wheels). opencv and
scipy are left out too: their wheels alone (~64-79 MB and ~35 MB) break the 64 MiB cap, so the
kit lists them as required on the machine and ``tools/gpu_check.sh --offline DIR`` checks that
they import before installing anything (``GPU_KIT_SKIP`` / ``GPU_KIT_ADD`` change the lists).

Standard library only; run by path with any python that has pip:
``python repl_mm/cli/gpu_kit.py DIR``.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

CAP_BYTES = 64 * 2**20
PYTHON_VERSION = '3.12'
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64')
#: torch 2.11's torchvision; numpy 2 is the machine's
TOP_LEVEL = ['mmengine==0.10.7', 'mmdet==3.3.0', 'mmsegmentation==1.2.2', 'mmpretrain==1.2.0',
             'pycocotools', 'ftfy', 'regex', 'matplotlib', 'addict', 'pyyaml', 'rich',
             'termcolor', 'yapf']
NO_DEPS = ['torchvision==0.26.0', 'setuptools>=77,<81', 'ninja', 'wheel']
MMCV_SDIST = 'mmcv==2.1.0'
#: on the machine already (the issue's premise): never downloaded into the kit
PRESENT = ['torch', 'numpy', 'triton', 'sympy', 'mpmath', 'networkx', 'jinja2', 'markupsafe',
           'filelock', 'fsspec', 'typing_extensions', 'cuda_bindings', 'cuda_pathfinder',
           'cuda_toolkit']
#: too large for the cap: required on the machine, checked by gpu_check.sh --offline
SKIP = ['opencv_python', 'opencv_python_headless', 'scipy']
#: import name of each skipped distribution (the pre-install check)
IMPORTS = {'opencv_python': 'cv2', 'opencv_python_headless': 'cv2', 'scipy': 'scipy'}


def norm(name: str) -> str:
    """A distribution name as wheel file names spell it (``opencv-python`` -> ``opencv_python``)."""
    return re.sub(r'[-_.]+', '_', name).lower()


def wheel_dist(filename: str) -> str:
    """The normalised distribution of a wheel or sdist file name."""
    return norm(re.split(r'-\d', filename, maxsplit=1)[0])


def pip_download(args: Sequence[str], dest: str, binary: bool = True) -> None:
    cmd = [sys.executable, '-m', 'pip', 'download', '--isolated', '--disable-pip-version-check',
           '-q', '-d', dest]
    if binary:
        cmd += ['--only-binary=:all:', '--python-version', PYTHON_VERSION, '--implementation',
                'cp', '--abi', 'cp' + PYTHON_VERSION.replace('.', '')]
        for p in PLATFORMS:
            cmd += ['--platform', p]
    cmd += list(args)
    print('gpu-kit: ' + ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise SystemExit(f'gpu-kit: STOP -- pip download failed (exit {proc.returncode}): '
                         f'{" ".join(args)}')


def prune(folder: str, drop: Sequence[str]) -> List[str]:
    """Removes the files of the distributions ``drop`` from ``folder``; returns their names."""
    gone = []
    drop_n = {norm(d) for d in drop}
    for f in sorted(os.listdir(folder)):
        if (f.endswith('.whl') or f.endswith('.tar.gz')) and (
                wheel_dist(f) in drop_n or wheel_dist(f).startswith('nvidia_')):
            os.remove(os.path.join(folder, f))
            gone.append(f)
    return gone


def sizes(folder: str) -> Dict[str, int]:
    return {f: os.path.getsize(os.path.join(folder, f)) for f in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, f))}


def build_kit(dest: str, skip: Sequence[str], add: Sequence[str]) -> Dict[str, object]:
    """Downloads the kit into ``dest`` (emptied first only when it holds an earlier kit)."""
    if os.path.exists(dest) and os.listdir(dest):
        if not os.path.exists(os.path.join(dest, 'kit.json')):
            raise SystemExit(f'gpu-kit: STOP -- {dest} is not empty and holds no kit.json: '
                             'give an empty or new folder')
        shutil.rmtree(dest)
    os.makedirs(dest)
    t0 = time.time()
    pip_download(TOP_LEVEL + list(add), dest)
    pip_download(['--no-deps', *NO_DEPS], dest)
    pip_download(['--no-deps', '--no-binary', ':all:', '--no-build-isolation', MMCV_SDIST],
                 dest, binary=False)
    removed = prune(dest, list(PRESENT) + [s for s in skip if norm(s) not in
                                            {norm(a.split('=')[0]) for a in add}])
    # mmengine asks for opencv-python by name, which a machine with opencv-python-headless
    # lacks: it is installed without dependencies (its others are in requirements.txt)
    with open(os.path.join(dest, 'requirements.txt'), 'w') as f:
        f.write('\n'.join([r for r in TOP_LEVEL + list(add) if not r.startswith('mmengine')]
                           + ['setuptools>=77,<81', 'ninja', 'wheel']) + '\n')
    files = sizes(dest)
    total = sum(files.values())
    info = dict(total_bytes=total, total_mib=round(total / 2**20, 1),
                cap_mib=CAP_BYTES // 2**20, files=files, removed=removed,
                required_on_machine=sorted(set(norm(s) for s in skip) | set(PRESENT)),
                imports_required={k: v for k, v in IMPORTS.items() if k in map(norm, skip)},
                python=PYTHON_VERSION, platforms=list(PLATFORMS),
                install=dict(no_deps=['mmengine==0.10.7'],
                             if_missing={'torchvision': 'torchvision==0.26.0'},
                             requirements='requirements.txt',
                             mmcv_sdist=[f for f in files if f.startswith('mmcv-')]),
                seconds=round(time.time() - t0), made_utc=time.strftime('%Y-%m-%dT%H:%MZ',
                                                                         time.gmtime()))
    with open(os.path.join(dest, 'kit.json'), 'w') as f:
        json.dump(info, f, indent=1)
    return info


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print('usage: gpu_kit.py DIR', file=sys.stderr)
        return 64
    env = os.environ
    skip = env['GPU_KIT_SKIP'].split() if 'GPU_KIT_SKIP' in env else SKIP
    add = env.get('GPU_KIT_ADD', '').split()
    info = build_kit(args[0], skip, add)
    biggest = sorted(info['files'].items(), key=lambda kv: -kv[1])[:5]
    print('gpu-kit: %d files, %.1f MiB (cap %d MiB) in %s; largest: %s' % (
        len(info['files']), info['total_bytes'] / 2**20, info['cap_mib'], args[0],
        ', '.join(f'{k} {v / 2**20:.1f}' for k, v in biggest)))
    print('gpu-kit: left out, must be on the machine: '
          + ', '.join(info['required_on_machine']))
    if info['total_bytes'] > CAP_BYTES:
        print(f'gpu-kit: STOP -- the kit is {info["total_mib"]} MiB, over the '
              f'{info["cap_mib"]} MiB cap: leave out what the machine has with '
              'GPU_KIT_SKIP="opencv_python opencv_python_headless scipy <more>"',
              file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
