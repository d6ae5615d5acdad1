"""Environment decisions shared by the install script, ``tools/check_env.py``, the launchers and
the import-time version check of :mod:`repl_mm.adapters`.

Standard library only at module level: ``tools/install_env.sh`` and the launchers run this file
by path (``python repl_mm/utils/envcheck.py <command>``) before torch or mmcv exist and without
importing :mod:`repl_mm`. torch and mmcv are imported inside the functions that need them.

What it decides (each problem is one message naming the thing and the fix):

* the mmcv ops mode of ``make install``: ``cuda`` when an NVIDIA GPU is present (``nvidia-smi``
  lists one) or ``FORCE_CUDA=1``; ``cpu`` without a GPU or with ``FORCE_CUDA=0``;
* for ``cuda``: the installed torch sees the GPUs, ``nvcc`` exists and its CUDA major version is
  torch's (``torch.version.cuda``), the ``TORCH_CUDA_ARCH_LIST`` of the visible GPUs; whether the
  installed mmcv must be (re)built and whether the built one has CUDA ops
  (``mmcv.ops.get_compiling_cuda_version()``);
* the mmcv / mmengine ranges the installed toolboxes accept (their ``__init__`` asserts);
* whether a torchrun / slurm launch may start: CPU processes on gloo only with
  ``REPL_MM_ALLOW_CPU_DIST=1``.
"""
import os
import sys

if __name__ == '__main__' and sys.path and \
        os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run by path: do not let repl_mm/* shadow top-level modules

import importlib.util  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from importlib import metadata  # noqa: E402
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple  # noqa: E402


def _load_versions():
    """repl_mm/version.py (the one source of version ranges), also when this file runs by path
    without the package (it sits one folder up, beside ``repl_mm/__init__.py``)."""
    if __package__:
        from .. import version
        return version
    spec = importlib.util.spec_from_file_location(
        'repl_mm_version',
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'version.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


versions = _load_versions()
ALLOW_CPU_DIST_ENV = 'REPL_MM_ALLOW_CPU_DIST'
MMCV_VERSION = versions.PINNED_STACK['mmcv']
#: ``(min, max)``: ``min <= version < max``, copied from each toolbox's ``__init__`` assert.
TOOLBOX_RANGES: Dict[str, Dict[str, Tuple[str, str]]] = {
    'mmdet': {'mmcv': ('2.0.0rc4', '2.2.0'), 'mmengine': ('0.7.1', '1.0.0')},
    'mmsegmentation': {'mmcv': ('2.0.0rc4', '2.2.0'), 'mmengine': ('0.5.0', '1.0.0')},
    'mmpretrain': {'mmcv': ('2.0.0', '2.4.0'), 'mmengine': ('0.8.3', '1.0.0')},
}
#: the same for OneDL's forks (keyed by the OpenMMLab name): onedl-mmdetection 3.5.1 and
#: onedl-mmsegmentation 1.4.2 assert nothing; onedl-mmpretrain 1.3.6 asserts these.
ONEDL_TOOLBOX_RANGES: Dict[str, Dict[str, Tuple[str, str]]] = {
    'mmpretrain': {'mmcv': ('2.0.0', '2.4.0'), 'mmengine': ('0.8.3', '1.0.0')},
}
#: distribution name -> import name
IMPORT_NAMES = {'mmdet': 'mmdet', 'mmsegmentation': 'mmseg', 'mmpretrain': 'mmpretrain'}
MMCV_FIX = ('install mmcv 2.1.0 built for your torch: `pip install "setuptools<81" && '
            'MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0` (add FORCE_CUDA=1 '
            'for CUDA ops; or `mim install mmcv==2.1.0` where OpenMMLab has a prebuilt wheel for '
            'your torch/CUDA pair), or use `make install` (a fresh .venv)')
WAYS_OUT = (
    'Ways out: (1) a torch build for this machine\'s CUDA: `TORCH_INDEX_URL='
    'https://download.pytorch.org/whl/cuXYZ make install`, with cuXYZ <= the "CUDA Version" '
    'nvidia-smi prints and matching your nvcc (e.g. cu126); torch and torchvision are then '
    'reinstalled from that index; or (2) skip `make install` and install repl_mm into an '
    'OpenMMLab environment that already works on this GPU: `pip install -e . --no-deps` '
    '(README, "Existing OpenMMLab environment"), then run `python tools/check_env.py`.')
PRE_RANK = {'a': -3, 'alpha': -3, 'b': -2, 'beta': -2, 'rc': -1, 'c': -1}

Runner = Callable[..., subprocess.CompletedProcess]


class EnvironmentProblem(RuntimeError):
    """An environment that cannot work as asked; the message names the problem and the fix."""


class IncompatibleVersionsError(ImportError):
    """Installed OpenMMLab packages whose versions do not go together."""


# ---------------------------------------------------------------- versions


def parse_version(version: str) -> Tuple[int, ...]:
    """A comparable tuple for ``version`` like mmengine's ``digit_version``: ``2.0.0rc4`` <
    ``2.0.0`` < ``2.1.0`` < ``2.1.0.post1``; a local label (``+cu121``) is ignored.

    Args:
        version (str): a PEP 440 style version string.
    """
    m = re.match(r'^\s*v?(\d+(?:\.\d+)*)(?:[.-]?(a|alpha|b|beta|rc|c)\.?(\d*))?'
                 r'(?:[.-]?post\.?(\d*))?', version)
    if m is None:
        raise ValueError(f'version: cannot parse {version!r}')
    release = [int(p) for p in m.group(1).split('.')][:4]
    release += [0] * (4 - len(release))
    pre = (PRE_RANK[m.group(2)], int(m.group(3) or 0)) if m.group(2) else (0, 0)
    post = int(m.group(4) or 0) if m.group(4) is not None else -1
    return tuple(release) + pre + (post, )


def in_range(version: str, low: str, high: str) -> bool:
    """``low <= version < high`` (:func:`parse_version` order)."""
    return parse_version(low) <= parse_version(version) < parse_version(high)


def _dist_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def installed_distributions(names: Sequence[str] = ('torch', 'torchvision', 'mmcv', 'mmengine',
                                                   'mmdet', 'mmsegmentation', 'mmpretrain',
                                                   'numpy')
                            ) -> Dict[str, List[Tuple[str, str]]]:
    """For each OpenMMLab name, the installed distributions that provide its modules:
    OpenMMLab's own and OneDL's fork (``versions.ALIASES``), as ``(distribution, version)``;
    read from package metadata without importing anything. Both at once is a broken install
    (they overwrite each other's files)."""
    forks = {v: k for k, v in versions.ALIASES.items()}
    out: Dict[str, List[Tuple[str, str]]] = {}
    for name in names:
        found = [(d, _dist_version(d)) for d in (name, forks.get(name)) if d]
        out[name] = [(d, v) for d, v in found if v is not None]
    return out


def installed_versions(names: Sequence[str] = ('torch', 'torchvision', 'mmcv', 'mmengine',
                                              'mmdet', 'mmsegmentation', 'mmpretrain', 'numpy')
                       ) -> Dict[str, Optional[str]]:
    """The installed versions under OpenMMLab's names (None when absent), read from package
    metadata without importing them; a OneDL fork distribution (``onedl-mmcv`` ...) counts as
    the package it replaces (``mmcv``), OpenMMLab's own first."""
    return {name: (found[0][1] if found else None)
            for name, found in installed_distributions(names).items()}


def onedl_names(dists: Optional[Dict[str, List[Tuple[str, str]]]] = None) -> List[str]:
    """The OpenMMLab names (``mmcv``, ``mmdet`` ...) installed as OneDL's fork only.

    Args:
        dists (dict, optional): :func:`installed_distributions` (default: read now).
    """
    dists = installed_distributions() if dists is None else dists
    return [name for name, found in dists.items()
            if found and all(d.startswith('onedl-') for d, _ in found)]


def _fix_for(dist: str, tested: 'versions.Tested') -> str:
    pin = tested.high if tested.low == tested.high else f'>={tested.low},<={tested.high}'
    pin = f'=={pin}' if pin[0].isdigit() else pin
    return f'pip install "{dist}{pin}"'


def tested_warnings(dists: Optional[Dict[str, List[Tuple[str, str]]]] = None) -> List[str]:
    """One line per installed distribution outside what the support matrix tested
    (``repl_mm/version.py``): ``<dist> <version> is outside the tested range <low>..<high>;
    fix: <pip command> (or keep it: ...)``. Never raised: ``tools/check_env.py`` prints them as
    WARNING lines; ``import repl_mm`` does not look at them.

    Args:
        dists (dict, optional): :func:`installed_distributions` (default: read now).
    """
    dists = installed_distributions() if dists is None else dists
    lines = []
    for found in dists.values():
        for dist, version in found:
            try:
                tested = versions.tested_range(dist)
            except KeyError:
                continue
            if parse_version(tested.low) <= parse_version(version) <= \
                    parse_version(tested.high):
                continue
            span = tested.low if tested.low == tested.high else f'{tested.low}..{tested.high}'
            lines.append(f'{dist} {version} is outside the tested range {span} '
                         f'(docs/compatibility.md); fix: {_fix_for(dist, tested)}, or keep it '
                         'and run `make test-matrix`-style checks yourself')
    fam = {name: {d.startswith('onedl-') for d, _ in found}
           for name, found in dists.items() if name in versions.ALIASES.values() and found}
    kinds = set().union(*fam.values()) if fam else set()
    if len(kinds) > 1:
        mixed = ', '.join(f'{d} {v}' for found in dists.values() for d, v in found
                          if d in versions.ALIASES or d in versions.ALIASES.values())
        lines.append(f'OpenMMLab and OneDL packages are mixed ({mixed}): no matrix cell tested '
                     'this; fix: use one family (docs/compatibility.md has both recipes)')
    return lines


def duplicate_problems(dists: Optional[Dict[str, List[Tuple[str, str]]]] = None) -> List[str]:
    """Both OpenMMLab's and OneDL's distribution of one package installed: they write the same
    files, so which one imports is an accident. One line each with the fix.

    Args:
        dists (dict, optional): :func:`installed_distributions` (default: read now).
    """
    dists = installed_distributions() if dists is None else dists
    return [f'{name} is installed twice ({", ".join(f"{d} {v}" for d, v in found)}), which '
            f'overwrite each other\'s files; fix: pip uninstall -y {" ".join(d for d, _ in found)}'
            f' and reinstall the one you want'
            for name, found in dists.items() if len(found) > 1]


def version_problems(versions: Dict[str, Optional[str]], onedl: Sequence[str] = ()
                     ) -> List[str]:
    """The mmcv / mmengine versions an installed toolbox refuses, one line each with the fix:
    exactly the cases where the toolbox's own ``__init__`` assert would stop its import.

    Args:
        versions (dict): distribution name -> version or None (:func:`installed_versions`).
        onedl (sequence of str): the toolboxes (OpenMMLab names) installed as OneDL's fork
            (:func:`onedl_names`), whose own asserts differ (:data:`ONEDL_TOOLBOX_RANGES`).
    """
    problems = []
    for toolbox in TOOLBOX_RANGES:
        ranges = ONEDL_TOOLBOX_RANGES.get(toolbox, {}) if toolbox in onedl \
            else TOOLBOX_RANGES[toolbox]
        tb_version = versions.get(toolbox)
        if tb_version is None:
            continue
        for dep, (low, high) in ranges.items():
            have = versions.get(dep)
            if have is not None and in_range(have, low, high):
                continue
            found = 'is not installed' if have is None else f'{have} is installed'
            fix = MMCV_FIX if dep == 'mmcv' else f'`pip install "mmengine>={low},<{high}"`'
            problems.append(f'{toolbox} {tb_version} needs {dep}>={low},<{high} but {dep} '
                            f'{found}; fix: {fix}')
    return problems


def check_versions(versions: Optional[Dict[str, Optional[str]]] = None) -> None:
    """Raises :class:`IncompatibleVersionsError` when an installed toolbox refuses the installed
    mmcv or mmengine (e.g. mmdet 3.3 with mmcv 2.2); called before the toolboxes are imported.

    Args:
        versions (dict, optional): distribution versions; default: the installed ones.
    """
    onedl = onedl_names() if versions is None else ()
    problems = version_problems(installed_versions() if versions is None else versions, onedl)
    if problems:
        raise IncompatibleVersionsError(
            'repl_mm: incompatible OpenMMLab versions in this environment:\n  ' +
            '\n  '.join(problems) + '\nRun `python tools/check_env.py` for the whole picture.')


# ---------------------------------------------------------------- GPU, driver, nvcc


class Gpu(NamedTuple):
    name: str
    driver: str
    compute_cap: Optional[str]  # '9.0'; None when the driver cannot report it


class GpuProbe(NamedTuple):
    """What ``nvidia-smi`` says: ``present`` False when it is not installed."""
    present: bool
    gpus: List[Gpu]
    driver_cuda: Optional[str]  # the highest CUDA version the driver supports
    error: Optional[str]  # nvidia-smi exists but failed (driver not loaded, ...)


def _run(cmd: Sequence[str], run: Runner) -> Tuple[int, str]:
    try:
        proc = run(list(cmd), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, str(e)
    return proc.returncode, (proc.stdout or '') + (proc.stderr or '')


def probe_gpus(run: Runner = subprocess.run) -> GpuProbe:
    """Lists the NVIDIA GPUs with ``nvidia-smi`` (found on ``PATH``).

    Args:
        run: ``subprocess.run`` (a fake in tests).
    """
    exe = shutil.which('nvidia-smi')
    if exe is None:
        return GpuProbe(False, [], None, None)
    rc, out = _run([exe, '--query-gpu=name,driver_version,compute_cap',
                    '--format=csv,noheader'], run)
    with_cap = rc == 0
    if not with_cap:  # drivers before ~510 do not know compute_cap
        rc, out = _run([exe, '--query-gpu=name,driver_version', '--format=csv,noheader'], run)
    if rc != 0:
        return GpuProbe(True, [], None, out.strip() or f'nvidia-smi exited with {rc}')
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(',')]
        if len(parts) >= 2 and parts[0]:
            gpus.append(Gpu(parts[0], parts[1], parts[2] if with_cap and len(parts) > 2 else None))
    _, banner = _run([exe], run)
    m = re.search(r'CUDA Version:\s*(\d+\.\d+)', banner)
    return GpuProbe(True, gpus, m.group(1) if m else None,
                    None if gpus else 'nvidia-smi lists no GPU')


def find_nvcc(env: Optional[Dict[str, str]] = None,
              fallback: str = '/usr/local/cuda/bin/nvcc') -> Optional[str]:
    """The nvcc torch's extension builder (and so mmcv's build) uses: ``$CUDA_HOME/bin/nvcc``
    or ``$CUDA_PATH/bin/nvcc``, else ``nvcc`` on ``PATH``, else ``fallback``.

    Args:
        env (dict, optional): environment variables; default ``os.environ``.
        fallback (str): the last place looked at.
    """
    env = os.environ if env is None else env
    for var in ('CUDA_HOME', 'CUDA_PATH'):
        if env.get(var):
            path = os.path.join(env[var], 'bin', 'nvcc')
            return path if os.access(path, os.X_OK) else None
    exe = shutil.which('nvcc', path=env.get('PATH'))
    if exe:
        return exe
    return fallback if os.access(fallback, os.X_OK) else None


def nvcc_version(nvcc: Optional[str], run: Runner = subprocess.run) -> Optional[str]:
    """``'12.4'`` from ``nvcc --version`` (``release 12.4, V12.4.131``); None when absent."""
    if nvcc is None:
        return None
    rc, out = _run([nvcc, '--version'], run)
    m = re.search(r'release (\d+\.\d+)', out)
    return m.group(1) if rc == 0 and m else None


def torch_info() -> Dict[str, object]:
    """The installed torch: version, CUDA build, whether it sees GPUs and their capabilities."""
    import torch
    available = torch.cuda.is_available()
    caps, names = [], []
    if available:
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            caps.append(f'{major}.{minor}')
            names.append(torch.cuda.get_device_name(i))
    return dict(version=torch.__version__, cuda=torch.version.cuda, available=available,
                capabilities=caps, names=names)


# ---------------------------------------------------------------- install decisions


def ops_mode(force_cuda: Optional[str], probe: GpuProbe) -> str:
    """``'cuda'`` or ``'cpu'``: the mmcv ops ``make install`` builds.

    Args:
        force_cuda (str, optional): ``FORCE_CUDA``: ``'1'`` cuda, ``'0'`` cpu, unset: cuda
            exactly when ``nvidia-smi`` lists a GPU.
        probe (GpuProbe): :func:`probe_gpus`.

    Raises:
        EnvironmentProblem: ``nvidia-smi`` exists but fails (FORCE_CUDA unset), or FORCE_CUDA
            has another value.
    """
    if force_cuda not in (None, '', '0', '1'):
        raise EnvironmentProblem(f'FORCE_CUDA must be 1 (build CUDA ops), 0 (CPU ops) or unset '
                                 f'(CUDA ops exactly when nvidia-smi lists a GPU), got '
                                 f'{force_cuda!r}')
    if force_cuda == '1':
        return 'cuda'
    if force_cuda == '0' or not probe.present:
        return 'cpu'
    if probe.error:
        raise EnvironmentProblem(
            f'nvidia-smi is installed but fails ({probe.error.splitlines()[0]}): the NVIDIA '
            'driver is not loaded or sees no GPU, so mmcv would be built without CUDA ops. Fix '
            'the driver (nvidia-smi must list the GPUs), or install CPU ops deliberately: '
            '`FORCE_CUDA=0 make install`.')
    return 'cuda'


def arch_list(probe: GpuProbe, torch_caps: Sequence[str], env_value: Optional[str]) -> str:
    """``TORCH_CUDA_ARCH_LIST`` for the build: the user's when set, else the compute
    capabilities of the visible GPUs (nvidia-smi, else torch), ``''`` when none is known.

    Args:
        probe (GpuProbe): :func:`probe_gpus`.
        torch_caps (list): ``'major.minor'`` of each device torch sees.
        env_value (str, optional): ``TORCH_CUDA_ARCH_LIST`` from the environment.
    """
    if env_value:
        return env_value
    caps = [g.compute_cap for g in probe.gpus if g.compute_cap] or list(torch_caps)
    return ';'.join(sorted(set(caps), key=parse_version))


def cuda_build_problems(probe: GpuProbe, nvcc: Optional[str], nvcc_ver: Optional[str],
                        torch: Dict[str, object], env: Dict[str, str],
                        building: bool = True) -> List[str]:
    """Why mmcv cannot be built with working CUDA ops here (or, with ``building=False``, why
    an installed one cannot work); empty when it can.

    Args:
        probe (GpuProbe): :func:`probe_gpus`.
        nvcc (str, optional): the nvcc path (:func:`find_nvcc`).
        nvcc_ver (str, optional): its version (:func:`nvcc_version`).
        torch (dict): :func:`torch_info`.
        env (dict): environment variables (``CUDA_VISIBLE_DEVICES``).
        building (bool): check nvcc too (only a build needs it).
    """
    problems = []
    tv, tcuda = torch['version'], torch['cuda']
    if tcuda is None:
        problems.append(f'the installed torch {tv} is a CPU-only build (torch.version.cuda is '
                        'None), so mmcv cannot get CUDA ops')
    elif probe.gpus and not torch['available']:
        names = ', '.join(sorted({g.name for g in probe.gpus}))
        drivers = ', '.join(sorted({g.driver for g in probe.gpus}))
        cvd = env.get('CUDA_VISIBLE_DEVICES')
        hidden = (f'; CUDA_VISIBLE_DEVICES={cvd!r} may hide them' if cvd is not None else '')
        problems.append(
            f'torch {tv} (built for CUDA {tcuda}) sees no GPU although nvidia-smi lists {names} '
            f'(driver {drivers}, supports CUDA up to {probe.driver_cuda or "?"}): the driver is '
            f'likely older than CUDA {tcuda} needs (CUDA 13.x: driver >= 580, 12.x: >= 525)'
            f'{hidden}')
    if tcuda is not None and building:
        if nvcc is None:
            problems.append('nvcc (the CUDA compiler) was not found ($CUDA_HOME/bin, PATH, '
                            '/usr/local/cuda/bin): mmcv\'s CUDA ops need a CUDA '
                            f'{str(tcuda).split(".")[0]}.x toolkit; install it and set CUDA_HOME')
        elif nvcc_ver is None:
            problems.append(f'{nvcc} --version did not report a CUDA release')
        elif nvcc_ver.split('.')[0] != str(tcuda).split('.')[0]:
            problems.append(f'nvcc {nvcc} is CUDA {nvcc_ver} but torch {tv} is built for CUDA '
                            f'{tcuda}: the major versions must match; point CUDA_HOME at a CUDA '
                            f'{str(tcuda).split(".")[0]}.x toolkit')
    return problems


def mmcv_state() -> Dict[str, object]:
    """The installed mmcv: version, whether ``mmcv.ops`` loads, the CUDA it was compiled with
    (``'not available'`` for CPU ops)."""
    state: Dict[str, object] = dict(version=None, ops=False, cuda=None, error=None)
    try:
        import mmcv
        state['version'] = mmcv.__version__
        from mmcv.ops import get_compiling_cuda_version
        state['ops'] = True
        state['cuda'] = get_compiling_cuda_version()
    except Exception as e:  # noqa: BLE001 -- reported, not hidden
        state['error'] = f'{type(e).__name__}: {e}'
    return state


def mmcv_rebuild_reason(state: Dict[str, object], mode: str, torch_cuda: Optional[str],
                        version: str = MMCV_VERSION) -> Optional[str]:
    """Why the installed mmcv must be (re)built for ``mode``; None when it is fine.

    Args:
        state (dict): :func:`mmcv_state`.
        mode (str): ``'cpu'`` or ``'cuda'`` (:func:`ops_mode`).
        torch_cuda (str, optional): ``torch.version.cuda``.
        version (str): the mmcv version needed (OneDL's stack: onedl-mmcv's).
    """
    if state['version'] is None:
        return 'mmcv is not installed'
    if state['version'] != version:
        return f'mmcv {state["version"]} is installed, {version} is needed'
    if not state['ops']:
        return f'mmcv.ops does not load ({state["error"]})'
    if mode == 'cuda':
        compiled = state['cuda']
        if compiled in (None, 'not available'):
            return 'the installed mmcv has CPU-only ops (compiled without CUDA)'
        if torch_cuda and str(compiled).split('.')[0] != str(torch_cuda).split('.')[0]:
            return f'mmcv ops were compiled with CUDA {compiled}, torch uses CUDA {torch_cuda}'
    return None


def cpu_dist_problem(launcher: str, cuda_available: bool,
                     env: Optional[Dict[str, str]] = None) -> Optional[str]:
    """The refusal of a multi-process launch that would run on CPU without the opt-in.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'``, ``'mpi'`` or ``'none'``.
        cuda_available (bool): ``torch.cuda.is_available()``.
        env (dict, optional): environment variables; default ``os.environ``.
    """
    env = os.environ if env is None else env
    if launcher == 'none' or cuda_available or env.get(ALLOW_CPU_DIST_ENV) == '1':
        return None
    cvd = env.get('CUDA_VISIBLE_DEVICES')
    cvd_text = ('CUDA_VISIBLE_DEVICES is unset' if cvd is None
                else f'CUDA_VISIBLE_DEVICES={cvd!r}')
    return (f'launcher={launcher!r}: no GPU is visible to torch (torch.cuda.is_available() is '
            'False), so this run would train on CPU processes. Likely causes: the NVIDIA driver '
            'is older than the CUDA build of torch (compare `nvidia-smi` "CUDA Version" with '
            '`python -c "import torch; print(torch.version.cuda)"`), a CPU-only torch, or '
            f'CUDA_VISIBLE_DEVICES hiding the GPUs ({cvd_text}); `python tools/check_env.py` '
            f'checks all of these. To run CPU processes on gloo on purpose, set '
            f'{ALLOW_CPU_DIST_ENV}=1.')


def torch_reinstall_needed(torch_version: Optional[str], index_url: str) -> bool:
    """Whether torch must be (re)installed from ``index_url``: True unless the installed build's
    local label (``+cu126``) is the index's last path part (``.../whl/cu126``).

    Args:
        torch_version (str, optional): the installed ``torch.__version__``; None when absent.
        index_url (str): ``TORCH_INDEX_URL``.
    """
    if not torch_version or '+' not in torch_version:
        return True
    label = index_url.rstrip('/').rsplit('/', 1)[-1]
    return torch_version.split('+', 1)[1] != label


# ---------------------------------------------------------------- command line


def _fail(problems: Sequence[str], ways_out: bool = True) -> int:
    lines = ['install: STOP -- ' + p for p in problems]
    if ways_out:
        lines.append(WAYS_OUT)
    print('\n'.join(lines), file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Commands for ``tools/install_env.sh`` and the launchers; messages go to stderr.

    * ``mode``: prints ``cpu`` or ``cuda`` (:func:`ops_mode`); 2 when nvidia-smi fails.
    * ``plan [--no-build]``: (cuda mode, torch installed) prints the ``TORCH_CUDA_ARCH_LIST``
      to build for; 2 with the problems (:func:`cuda_build_problems`; nvcc is not checked with
      ``--no-build``).
    * ``mmcv-rebuild MODE [VERSION]``: 0 and the reason when mmcv must be built, 1 when not
      (VERSION: default the pinned mmcv's; ``tools/install_onedl_env.sh`` passes onedl-mmcv's).
    * ``verify MODE``: 0 when the installed mmcv has the ops of ``MODE`` (and, with a GPU,
      runs ``nms`` on it), else 2.
    * ``torch-reinstall INDEX_URL``: 0 when torch must be installed from INDEX_URL, else 1.
    * ``check-dist LAUNCHER``: 0 when a multi-process launch may start, else 3 with the reason.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    cmd = args[0] if args else ''
    env = dict(os.environ)
    if cmd == 'mode':
        try:
            print(ops_mode(env.get('FORCE_CUDA'), probe_gpus()))
        except EnvironmentProblem as e:
            return _fail([str(e)], ways_out=False)
        return 0
    if cmd == 'plan' and args[1:] in ([], ['--no-build']):
        probe, nvcc, info = probe_gpus(), find_nvcc(env), torch_info()
        problems = cuda_build_problems(probe, nvcc, nvcc_version(nvcc), info, env,
                                       building=args[1:] == [])
        if problems:
            return _fail(problems)
        print(arch_list(probe, info['capabilities'], env.get('TORCH_CUDA_ARCH_LIST')))
        return 0
    if cmd == 'mmcv-rebuild' and len(args) in (2, 3):
        try:  # exit 1 means "keep this mmcv": a torch that does not import must not say so
            import torch
        except Exception as e:  # noqa: BLE001 -- reported as the reason
            print(f'torch does not import ({type(e).__name__}: {e})')
            return 0
        reason = mmcv_rebuild_reason(mmcv_state(), args[1], torch.version.cuda, *args[2:])
        if reason:
            print(reason)
        return 0 if reason else 1
    if cmd == 'verify' and len(args) == 2:
        import torch
        state = mmcv_state()
        reason = mmcv_rebuild_reason(state, args[1], torch.version.cuda)
        if reason:
            return _fail([f'after the build: {reason}'])
        if args[1] == 'cuda' and torch.cuda.is_available():
            from mmcv.ops import nms
            boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device='cuda')
            keep = nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)[1]
            if keep.tolist() != [0]:
                return _fail([f'mmcv.ops.nms on the GPU returned {keep.tolist()}, not [0]'])
        print(f'install: mmcv {state["version"]} ops compiled with CUDA: {state["cuda"]}')
        return 0
    if cmd == 'torch-reinstall' and len(args) == 2:
        return 0 if torch_reinstall_needed(installed_versions(['torch'])['torch'],
                                           args[1]) else 1
    if cmd == 'check-dist' and len(args) == 2:
        import torch
        problem = cpu_dist_problem(args[1], torch.cuda.is_available(), env)
        if problem:
            print(f'ERROR: {problem}', file=sys.stderr)
            return 3
        return 0
    print('usage: envcheck.py mode | plan [--no-build] | mmcv-rebuild MODE [VERSION] | '
          'verify MODE | torch-reinstall INDEX_URL | check-dist LAUNCHER', file=sys.stderr)
    return 64


if __name__ == '__main__':
    sys.exit(main())
