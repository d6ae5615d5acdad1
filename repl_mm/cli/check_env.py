"""Environment doctor: what is installed, and whether it works together. Run it first when
something fails::

    python tools/check_env.py

Like mmengine's ``collect_env`` (and ``mim``), plus verdicts: Python; torch with its CUDA build,
``torch.cuda.is_available()``, the GPUs and the driver (``nvidia-smi``); torchvision (do its
compiled ops load?); mmcv (version, do ``mmcv.ops`` load, compiled with which CUDA?); mmengine;
mmdet, mmsegmentation and mmpretrain with the mmcv / mmengine ranges each accepts; numpy;
``import repl_mm``. OpenMMLab's distributions and OneDL's fork (``onedl-mmengine``,
``onedl-mmcv`` ...) are both recognised, from package metadata. Every problem is one line
``PROBLEM: ...; fix: ...``. A version outside what the support matrix tested
(``repl_mm/version.py``, docs/compatibility.md) is a line ``WARNING: <package> <version> is
outside the tested range ...; fix: ...`` and does not change the exit status. Exit status 0 when
everything the installed toolboxes need works, 1 otherwise.

It reads ``repl_mm/utils/envcheck.py`` by path, so it runs even where ``import repl_mm`` fails:
``tools/check_env.py`` and ``repl-mm-check-env`` run this file by path
(``repl_mm_launch.check_env``), standard library only at module level.
"""
import importlib
import importlib.util
import os
import os.path as osp
import platform
import sys
from types import ModuleType
from typing import List, NamedTuple, Optional, Sequence

#: the repl_mm package folder (this file is run by path: no package import)
PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load_envcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        'repl_mm_envcheck', osp.join(PACKAGE, 'utils', 'envcheck.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


envcheck = _load_envcheck()


class Finding(NamedTuple):
    """One report line: ``problem`` False for information; ``warning`` True for a version
    outside what the support matrix tested (printed, exit status unchanged)."""
    label: str
    text: str
    problem: bool = False
    fix: str = ''
    warning: bool = False


def info(label: str, text: str) -> Finding:
    return Finding(label, text)


def problem(label: str, text: str, fix: str) -> Finding:
    return Finding(label, text, True, fix)


def _error(e: BaseException) -> str:
    return f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'.rstrip(': ')


def check_python() -> List[Finding]:
    return [info('Python', f'{platform.python_version()} ({sys.executable})')]


def check_torch(probe) -> List[Finding]:
    """torch, its CUDA build, the GPUs it sees and those nvidia-smi lists.

    Args:
        probe: ``envcheck.probe_gpus()``.
    """
    if probe.present and probe.gpus:
        gpus = ', '.join(g.name for g in probe.gpus)
        drv = probe.gpus[0].driver
        smi = f'{gpus}; driver {drv}, supports CUDA up to {probe.driver_cuda or "?"}'
    elif probe.present:
        smi = f'nvidia-smi fails: {probe.error}'
    else:
        smi = 'no nvidia-smi (no NVIDIA driver): CPU only'
    found = [info('nvidia-smi', smi)]
    try:
        import torch
    except Exception as e:  # noqa: BLE001 -- reported
        return found + [problem('torch', f'does not import ({_error(e)})',
                                'make install (fresh .venv), or install torch for your CUDA '
                                'from https://pytorch.org/get-started/locally/')]
    available = torch.cuda.is_available()
    names = []
    if available:
        try:
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception as e:  # noqa: BLE001
            names = [f'? ({_error(e)})']
    found.append(info('torch', f'{torch.__version__}, CUDA build {torch.version.cuda}, '
                               f'cuda.is_available(): {available}' +
                      (f', devices: {", ".join(names)}' if names else '')))
    if probe.present and probe.error:
        found.append(problem('GPU', f'nvidia-smi is installed but fails ({probe.error})',
                             'fix the NVIDIA driver until nvidia-smi lists the GPUs'))
    elif probe.gpus and not available:
        cvd = os.environ.get('CUDA_VISIBLE_DEVICES')
        why = (f'CUDA_VISIBLE_DEVICES={cvd!r} hides them, or ' if cvd is not None else '')
        if torch.version.cuda is None:
            found.append(problem('torch', f'{torch.__version__} is a CPU-only build but this '
                                 'machine has NVIDIA GPUs',
                                 'install a CUDA build of torch (TORCH_INDEX_URL=https://download'
                                 '.pytorch.org/whl/cuXYZ make install, or pip install torch '
                                 '--index-url https://download.pytorch.org/whl/cuXYZ)'))
        else:
            found.append(problem(
                'torch', f'sees no GPU although nvidia-smi lists {len(probe.gpus)}: {why}the '
                f'driver (CUDA up to {probe.driver_cuda or "?"}) is older than torch\'s CUDA '
                f'{torch.version.cuda} build needs (13.x: driver >= 580, 12.x: >= 525)',
                'a torch built for the driver\'s CUDA (TORCH_INDEX_URL=https://download.pytorch'
                '.org/whl/cuXYZ make install, cuXYZ <= the driver\'s CUDA), or a newer driver'))
    return found


def check_torchvision() -> List[Finding]:
    try:
        import torch
        import torchvision
    except Exception as e:  # noqa: BLE001
        return [problem('torchvision', f'does not import ({_error(e)})',
                        'install the torchvision release of your torch from the same index')]
    found = [info('torchvision', torchvision.__version__)]
    t_minor = envcheck.parse_version(torch.__version__)[:2]
    v_minor = envcheck.parse_version(torchvision.__version__)[:2]
    if t_minor[0] == 2 and v_minor != (0, t_minor[1] + 15):
        found.append(problem('torchvision', f'{torchvision.__version__} is not the release of '
                             f'torch {torch.__version__} (torch 2.N pairs with torchvision '
                             f'0.(N+15))', f'pip install torchvision==0.{t_minor[1] + 15}.* from '
                             'the index torch came from'))
    try:
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
        keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
        if keep.tolist() != [0]:
            raise RuntimeError(f'nms returned {keep.tolist()}, expected [0]')
    except Exception as e:  # noqa: BLE001
        found.append(problem('torchvision', f'compiled ops do not work ({_error(e)})',
                             'reinstall torchvision from the same index and build as torch '
                             '(a local CPU-only torch file with registry torchvision breaks them)'))
    return found


def check_mmcv() -> List[Finding]:
    state = envcheck.mmcv_state()
    if state['version'] is None:
        return [problem('mmcv', f'does not import ({state["error"]})', envcheck.MMCV_FIX)]
    found = [info('mmcv', f'{state["version"]}, ops: ' +
                  (f'compiled with CUDA {state["cuda"]}' if state['ops'] else 'do not load'))]
    if not state['ops']:
        found.append(problem('mmcv', f'mmcv.ops does not load ({state["error"]}); nms, '
                             'sigmoid_focal_loss and RoIAlign need it', envcheck.MMCV_FIX))
        return found
    try:
        import torch
    except Exception:  # noqa: BLE001 -- reported by check_torch
        return found
    compiled = state['cuda']
    if torch.cuda.is_available():
        if compiled in (None, 'not available'):
            found.append(problem('mmcv', 'ops are CPU-only (compiled without CUDA) but torch '
                                 'sees a GPU: GPU training fails in nms / sigmoid_focal_loss',
                                 'rebuild with CUDA ops: make install (a .venv: rebuilt on a '
                                 'GPU machine), or FORCE_CUDA=1 MMCV_WITH_OPS=1 pip install '
                                 '--no-build-isolation --force-reinstall --no-deps '
                                 'mmcv==2.1.0'))
        elif str(compiled).split('.')[0] != str(torch.version.cuda).split('.')[0]:
            found.append(problem('mmcv', f'ops compiled with CUDA {compiled}, torch uses CUDA '
                                 f'{torch.version.cuda}', 'rebuild mmcv against this torch '
                                 '(FORCE_CUDA=1 ... --force-reinstall mmcv==2.1.0)'))
    return found


def _shown(name: str, versions, dists) -> str:
    """``0.10.12 (onedl-mmengine)`` for a OneDL fork, the bare version for OpenMMLab's."""
    version = versions.get(name)
    if version is None:
        return 'not installed'
    found = (dists or {}).get(name) or []
    return version if not found or found[0][0] == name else f'{version} ({found[0][0]})'


def check_openmmlab(versions, dists=None) -> List[Finding]:
    """mmengine and the toolboxes, OpenMMLab's or OneDL's (``onedl-*``): versions, the
    mmcv/mmengine ranges each toolbox asserts, a package installed twice, and whether they
    import.

    Args:
        versions (dict): distribution -> version or None (``envcheck.installed_versions()``).
        dists (dict, optional): ``envcheck.installed_distributions()``: which distribution
            provides each package (None: OpenMMLab's).
    """
    found = [info('mmengine', _shown('mmengine', versions, dists))]
    if versions.get('mmengine') is None:
        found.append(problem('mmengine', 'not installed',
                             f'pip install "{envcheck.versions.requirement("mmengine")}" (or '
                             f'OneDL\'s "onedl-mmengine=='
                             f'{envcheck.versions.ONEDL_STACK["onedl-mmengine"]}")'))
    toolboxes = [d for d in envcheck.TOOLBOX_RANGES if versions.get(d)]
    for dist in envcheck.TOOLBOX_RANGES:
        found.append(info(dist, _shown(dist, versions, dists)))
    if not toolboxes:
        found.append(problem('toolboxes', 'none of mmdet, mmsegmentation, mmpretrain is '
                             'installed', 'pip install -e ".[toolboxes]" (or the toolbox you '
                             'use), or make install'))
    for line in envcheck.duplicate_problems(dists or {}):
        text, fix = line.split('; fix: ', 1)
        found.append(problem(text.split(' ', 1)[0], text, fix))
    for line in envcheck.version_problems(versions, envcheck.onedl_names(dists or {})):
        text, fix = line.split('; fix: ', 1)
        found.append(problem(text.split(' ', 1)[0], text, fix))
    if any(f.problem for f in found):
        return found  # importing them would only repeat their asserts
    for dist in toolboxes:
        try:
            importlib.import_module(envcheck.IMPORT_NAMES[dist])
        except Exception as e:  # noqa: BLE001
            found.append(problem(dist, f'does not import ({_error(e)})',
                                 f'reinstall {dist}=={versions[dist]}'))
    return found


def check_numpy(versions) -> List[Finding]:
    version = versions.get('numpy')
    if version is None:
        return [problem('numpy', 'not installed', 'pip install numpy')]
    return [info('numpy', version)]


def check_tested(dists) -> List[Finding]:
    """WARNING lines: installed versions outside what the support matrix tested
    (``repl_mm/version.py``, docs/compatibility.md), and OpenMMLab/OneDL packages mixed.

    Args:
        dists (dict): ``envcheck.installed_distributions()``.
    """
    out = []
    for line in envcheck.tested_warnings(dists):
        text, fix = line.split('; fix: ', 1)
        out.append(Finding(text.split(' ', 1)[0], text, False, fix, True))
    return out


def check_repl_mm() -> List[Finding]:
    try:
        repl_mm = importlib.import_module('repl_mm')
    except Exception as e:  # noqa: BLE001
        return [problem('repl_mm', f'does not import ({_error(e)})',
                        'fix the problems above, then pip install -e . --no-deps')]
    scopes = ', '.join(getattr(repl_mm, 'AVAILABLE', [])) or 'none'
    allow = os.environ.get(envcheck.ALLOW_CPU_DIST_ENV)
    return [info('repl_mm', f'{repl_mm.__version__} from {osp.dirname(repl_mm.__file__)}; '
                 f'RepL backbones registered in: {scopes}'),
            info('launchers', f'{envcheck.ALLOW_CPU_DIST_ENV}={allow!r} (1: CPU multi-process '
                 'runs on gloo allowed where torch sees no GPU)')]


def collect(probe=None, versions=None) -> List[Finding]:
    """Every finding, in report order.

    Args:
        probe: ``envcheck.probe_gpus()`` (default: probe now).
        versions (dict, optional): installed versions (default: read now).
    """
    probe = envcheck.probe_gpus() if probe is None else probe
    dists = envcheck.installed_distributions() if versions is None else \
        {k: [(k, v)] if v else [] for k, v in versions.items()}
    versions = envcheck.installed_versions() if versions is None else versions
    found = check_python() + check_torch(probe) + check_torchvision() + check_mmcv()
    found += check_openmmlab(versions, dists) + check_numpy(versions) + check_tested(dists)
    if not any(f.problem for f in found):
        found += check_repl_mm()
    return found


def report(found: Sequence[Finding]) -> str:
    lines = [f'{f.label:<15}{f.text}' for f in found if not f.problem and not f.warning]
    lines += [f'WARNING: {f.text}; fix: {f.fix}' for f in found if f.warning]
    problems = [f for f in found if f.problem]
    lines += [f'PROBLEM: {f.label}: {f.text}; fix: {f.fix}' for f in problems]
    lines.append(f'{len(problems)} problem(s): see the PROBLEM lines.' if problems else
                 'OK: everything the installed toolboxes need works.')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.parse_args(argv)
    found = collect()
    print(report(found))
    return 1 if any(f.problem for f in found) else 0


if __name__ == '__main__':
    sys.exit(main())
