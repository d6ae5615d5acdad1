"""The CUDA toolchain for compiling mmcv's CUDA ops (or any torch extension) on a machine with
or without a GPU: which ``nvcc`` (the system's or the compiler wheels matching torch), a
``CUDA_HOME`` assembled from those wheels, the ``TORCH_CUDA_ARCH_LIST``, and the checks of a
built extension that need no GPU (``cuobjdump --list-elf``: one cubin per requested arch).

Standard library only at module level: ``make cuda-build`` (``tools/cuda_build.sh``) runs this
file by path with the target environment's python, before mmcv exists and without importing
:mod:`repl_mm`; torch and mmcv are imported inside the functions that need them.

Routes (``CUDA_FROM``):

* ``system``: the nvcc of ``$CUDA_HOME`` / ``PATH`` / ``/usr/local/cuda``, used only when its
  CUDA major version is ``torch.version.cuda``'s; a mismatch is refused with both versions and
  the two fixes;
* ``pip``: the nvcc wheels of torch's CUDA release (CUDA 13: ``cuda-toolkit[nvcc,cccl]`` at the
  ``cuda-toolkit`` version torch depends on; CUDA 12: ``nvidia-cuda-nvcc-cu12`` and
  ``nvidia-cuda-cccl-cu12`` at torch's ``X.Y``), merged with torch's CUDA library wheels into
  ``<env>/cuda_home`` (``bin``, ``include``, ``nvvm``, ``lib64`` with unversioned ``.so``
  links such as ``libcudart.so`` for ``-lcudart``);
* unset: ``system`` when a system nvcc with torch's major exists, else ``pip`` (said so).
"""
import os
import sys

if __name__ == '__main__' and sys.path and \
        os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run by path: do not let repl_mm/utils/* shadow top-level modules

import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sysconfig  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from importlib import metadata  # noqa: E402
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple  # noqa: E402

ROUTES = ('system', 'pip')
DEFAULT_ARCH_LIST = '8.0;9.0'
MMCV_VERSION = '2.1.0'
#: the distributions ``build --package`` accepts: OpenMMLab's mmcv (the pinned stack) and
#: OneDL's maintained fork (``tools/install_onedl_env.sh``); both install the module ``mmcv``
PACKAGES = ('mmcv', 'onedl-mmcv')
DEFAULT_PACKAGE = f'mmcv=={MMCV_VERSION}'
HOME_MARKER = '.repl_mm_cuda_home'  # only a folder carrying it is ever replaced
ARCH_RE = re.compile(r'^(\d+)\.(\d)([af]?)(\+PTX)?$')
#: headers torch's ``ATen/cuda/CUDAContext.h`` includes besides the runtime's
LIBRARY_HEADERS = ('cublas_v2.h', 'cusparse.h', 'cusolverDn.h')

Runner = Callable[..., subprocess.CompletedProcess]


class ToolchainError(RuntimeError):
    """A toolchain that cannot build as asked; the message names the problem and the fix."""


# ---------------------------------------------------------------- small facts


def major(version: Optional[str]) -> Optional[str]:
    """``'13'`` from ``'13.0'``; None for None."""
    return None if version is None else str(version).split('.')[0]


def _run(cmd: Sequence[str], run: Runner = subprocess.run,
         env: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
    try:
        proc = run(list(cmd), capture_output=True, text=True, timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, str(e)
    return proc.returncode, (proc.stdout or '') + (proc.stderr or '')


def nvcc_release(nvcc: str, run: Runner = subprocess.run) -> Optional[str]:
    """``'13.0'`` from ``nvcc --version`` (``release 13.0, V13.0.88``); None when it fails."""
    rc, out = _run([nvcc, '--version'], run)
    m = re.search(r'release (\d+\.\d+)', out)
    return m.group(1) if rc == 0 and m else None


def nvcc_release_line(nvcc: str, run: Runner = subprocess.run) -> str:
    """The ``Cuda compilation tools, release ...`` line of ``nvcc --version``."""
    _, out = _run([nvcc, '--version'], run)
    lines = [ln for ln in out.splitlines() if 'release' in ln]
    return lines[0].strip() if lines else out.strip()


def nvcc_top(nvcc: str, run: Runner = subprocess.run) -> Optional[str]:
    """The toolkit folder an nvcc really uses (its ``TOP``, from ``nvcc --dryrun -v``): right
    even when ``nvcc`` on ``PATH`` is a wrapper script outside the toolkit (``dirname(dirname(
    which nvcc))`` -- torch's guess -- would then be wrong)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'probe.cu')
        open(src, 'w').close()
        _, out = _run([nvcc, '--dryrun', '-v', '-c', src, '-o', os.path.join(tmp, 'p.o')], run)
    m = re.search(r'^#\$ TOP=(.+)$', out, re.M)
    return os.path.normpath(m.group(1).strip()) if m else None


def nvcc_sm_list(nvcc: str, run: Runner = subprocess.run) -> List[str]:
    """The real architectures an nvcc can compile for (``nvcc --list-gpu-code``: ``sm_80``)."""
    rc, out = _run([nvcc, '--list-gpu-code'], run)
    return re.findall(r'\bsm_\d+[af]?\b', out) if rc == 0 else []


def visible_gpu_archs(run: Runner = subprocess.run) -> str:
    """``'9.0'``: the compute capabilities ``nvidia-smi`` lists (``''`` without a GPU)."""
    exe = shutil.which('nvidia-smi')
    if exe is None:
        return ''
    rc, out = _run([exe, '--query-gpu=compute_cap', '--format=csv,noheader'], run)
    caps = sorted(set(re.findall(r'^\s*(\d+\.\d+)\s*$', out, re.M))) if rc == 0 else []
    return ';'.join(caps)


def parse_arch_list(value: Optional[str]) -> List[str]:
    """The entries of a ``TORCH_CUDA_ARCH_LIST`` (``'8.0;9.0'``, ``'8.0 9.0+PTX'``,
    ``'9.0a'``); the default ``'8.0;9.0'`` when empty (:func:`make_plan` first takes the
    visible GPUs' capabilities).

    Raises:
        ToolchainError: an entry that is not ``MAJOR.MINOR`` (optionally ``a``/``f`` and
            ``+PTX``); named architectures (``Ampere``) are not accepted here.
    """
    entries = [e for e in re.split(r'[;\s]+', (value or '').strip()) if e]
    if not entries:
        entries = DEFAULT_ARCH_LIST.split(';')
    bad = [e for e in entries if not ARCH_RE.match(e)]
    if bad:
        raise ToolchainError(
            f'TORCH_CUDA_ARCH_LIST={value!r}: {", ".join(bad)} is not a compute capability; '
            "allowed: MAJOR.MINOR entries separated by ';', each optionally with 'a' and/or "
            "'+PTX', e.g. '8.0;9.0' or '9.0a+PTX'")
    return entries


def cubin_arch(entry: str) -> str:
    """``'sm_90a'`` from ``'9.0a+PTX'``: the cubin name an arch-list entry produces."""
    m = ARCH_RE.match(entry)
    if not m:
        raise ToolchainError(f'TORCH_CUDA_ARCH_LIST entry {entry!r} is not a compute capability')
    return f'sm_{m.group(1)}{m.group(2)}{m.group(3)}'


def unsupported_archs(entries: Sequence[str], supported: Sequence[str]) -> List[str]:
    """The entries whose base ``sm_XY`` an nvcc does not list (``--list-gpu-code``)."""
    base = {re.sub(r'[af]$', '', s) for s in supported}
    return [e for e in entries if re.sub(r'[af]$', '', cubin_arch(e)) not in base]


def elf_counts(listing: str) -> Dict[str, int]:
    """Cubins per arch in ``cuobjdump --list-elf`` output (``ELF file 1: x.1.sm_90.cubin``)."""
    return dict(sorted(Counter(re.findall(r'\.(sm_\d+[af]?)\.cubin\b', listing)).items()))


def ptx_counts(listing: str) -> Dict[str, int]:
    """PTX entries per arch in ``cuobjdump --list-ptx`` output (``PTX file 1: x.sm_90.ptx``)."""
    return dict(sorted(Counter(re.findall(r'\.(sm_\d+[af]?)\.ptx\b', listing)).items()))


def missing_archs(entries: Sequence[str], cubins: Dict[str, int],
                  ptx: Optional[Dict[str, int]] = None) -> List[str]:
    """The requested entries without a cubin (and, for ``+PTX``, without PTX)."""
    out = []
    for e in entries:
        arch = cubin_arch(e)
        if not cubins.get(arch):
            out.append(f'{e} (no {arch} cubin)')
        elif e.endswith('+PTX') and ptx is not None and not ptx.get(arch):
            out.append(f'{e} (no {arch} PTX)')
    return out


# ---------------------------------------------------------------- where things are


def site_packages() -> str:
    """This interpreter's ``site-packages`` (``purelib``)."""
    return sysconfig.get_paths()['purelib']


def dist_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def torch_cuda() -> Tuple[str, Optional[str]]:
    """``(torch.__version__, torch.version.cuda)`` of this interpreter's torch."""
    try:
        import torch
    except ImportError as e:
        raise ToolchainError(f'torch is not installed in {sys.executable} ({e}): install the '
                             'torch you will train with first (`make install`)') from None
    return torch.__version__, torch.version.cuda


def system_nvcc(env: Dict[str, str], exclude: Optional[str] = None) -> Optional[str]:
    """The system nvcc: ``$CUDA_HOME/bin/nvcc`` / ``$CUDA_PATH/bin/nvcc`` (unless that is the
    assembled ``exclude`` folder), else ``nvcc`` on ``PATH``, else ``/usr/local/cuda/bin/nvcc``."""
    for var in ('CUDA_HOME', 'CUDA_PATH'):
        home = env.get(var)
        if home and (exclude is None or os.path.realpath(home) != os.path.realpath(exclude)):
            path = os.path.join(home, 'bin', 'nvcc')
            return path if os.access(path, os.X_OK) else None
    search = os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep)
                             if not exclude or not p.startswith(exclude))
    exe = shutil.which('nvcc', path=search)
    if exe:
        return exe
    fallback = '/usr/local/cuda/bin/nvcc'
    return fallback if os.access(fallback, os.X_OK) else None


def compiler_wheel_specs(torch_cuda_version: str, toolkit: Optional[str]) -> List[str]:
    """The pip requirements of the CUDA compiler matching torch's CUDA.

    Args:
        torch_cuda_version (str): ``torch.version.cuda`` (``'13.0'``).
        toolkit (str, optional): the installed ``cuda-toolkit`` distribution's version (torch's
            CUDA 13 wheels depend on it), which pins every compiler wheel exactly.
    """
    m = major(torch_cuda_version)
    if toolkit and major(toolkit) == m:
        return [f'cuda-toolkit[nvcc,cccl]=={toolkit}']
    xy = '.'.join(str(torch_cuda_version).split('.')[:2])
    if m == '12':
        return [f'nvidia-cuda-nvcc-cu12=={xy}.*', f'nvidia-cuda-cccl-cu12=={xy}.*']
    return [f'nvidia-cuda-nvcc=={xy}.*', f'nvidia-cuda-crt=={xy}.*', f'nvidia-nvvm=={xy}.*',
            f'nvidia-cuda-cccl=={xy}.*']


def wheel_roots(sp: str) -> List[str]:
    """The CUDA wheel trees under ``site-packages/nvidia``: ``cu13`` (CUDA 13 wheels share one
    tree) or, for the CUDA 12 layout, every ``nvidia/<lib>`` folder with ``bin``/``include``/
    ``lib`` (``cuda_nvcc``, ``cuda_runtime``, ``cublas``, ...)."""
    base = os.path.join(sp, 'nvidia')
    if not os.path.isdir(base):
        return []
    roots = []
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name)
        if os.path.isdir(path) and any(os.path.isdir(os.path.join(path, d))
                                       for d in ('bin', 'include', 'lib')):
            roots.append(path)
    cu = [r for r in roots if re.fullmatch(r'cu\d+', os.path.basename(r))]
    return cu or roots


def wheel_nvcc(sp: str) -> Optional[str]:
    """``nvcc`` of the compiler wheels installed in ``sp``; None when absent."""
    for root in wheel_roots(sp):
        path = os.path.join(root, 'bin', 'nvcc')
        if os.access(path, os.X_OK):
            return path
    return None


def _link_tree(src: str, dst: str) -> None:
    """Symlinks ``src``'s entries into the folder ``dst``, merging folders present in both."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.lexists(d):
            if os.path.isdir(s) and os.path.isdir(d):
                if os.path.islink(d):  # a folder linked whole before: make it a real merge
                    first = os.path.realpath(d)
                    os.unlink(d)
                    _link_tree(first, d)
                _link_tree(s, d)
            continue  # the first tree's file wins
        os.symlink(s, d)


def assemble_cuda_home(roots: Sequence[str], dest: str) -> str:
    """Builds ``dest``: a ``CUDA_HOME`` of symlinks into the wheel trees ``roots`` --
    ``bin``, ``include``, ``nvvm`` merged, their ``lib`` folders as ``lib64`` (torch's
    extension builder links ``$CUDA_HOME/lib64``, else ``lib``) plus an unversioned link for
    every versioned library (``libcudart.so`` -> ``libcudart.so.13``: ``-lcudart`` needs it).

    A ``dest`` that exists is replaced only when it carries the marker of an earlier assembly;
    anything else is refused, never deleted.

    Returns:
        str: ``dest``.
    """
    if not roots:
        raise ToolchainError('no CUDA wheels under site-packages/nvidia to assemble a '
                             'CUDA_HOME from: install the compiler wheels first')
    if os.path.lexists(dest):
        if not os.path.exists(os.path.join(dest, HOME_MARKER)):
            raise ToolchainError(f'{dest} exists and was not made by this tool; move it away '
                                 'or set CUDA_HOME_DIR to another folder')
        shutil.rmtree(dest)
    os.makedirs(os.path.join(dest, 'lib64'))
    for root in roots:
        for sub in sorted(os.listdir(root)):
            src = os.path.join(root, sub)
            if not os.path.isdir(src) or sub in ('__pycache__',):
                continue
            if sub in ('lib', 'lib64'):
                _link_tree(src, os.path.join(dest, 'lib64'))
            else:
                _link_tree(src, os.path.join(dest, sub))
    lib64 = os.path.join(dest, 'lib64')
    for name in sorted(os.listdir(lib64)):
        m = re.fullmatch(r'(lib[\w+-]+\.so)\.\d+(\.\d+)*', name)
        if m and not os.path.lexists(os.path.join(lib64, m.group(1))):
            os.symlink(name, os.path.join(lib64, m.group(1)))
    with open(os.path.join(dest, HOME_MARKER), 'w') as f:
        f.write('\n'.join(roots) + '\n')
    return dest


def library_header_dirs(cuda_home: str, sp: str) -> List[str]:
    """Include folders of torch's CUDA library wheels to add when ``cuda_home`` lacks the
    library headers ``ATen/cuda/CUDAContext.h`` needs (a compiler-only system toolkit)."""
    if all(os.path.exists(os.path.join(cuda_home, 'include', h)) for h in LIBRARY_HEADERS):
        return []
    dirs = []
    for root in wheel_roots(sp):
        inc = os.path.join(root, 'include')
        if any(os.path.exists(os.path.join(inc, h)) for h in LIBRARY_HEADERS):
            dirs.append(inc)
    return dirs


def find_cuobjdump(cuda_home: Optional[str], sp: str,
                   env: Optional[Dict[str, str]] = None) -> Optional[str]:
    """``cuobjdump``: the toolkit's, else on ``PATH``, else triton's copy
    (``triton/backends/nvidia/bin/cuobjdump``; the nvcc wheel has none)."""
    env = os.environ if env is None else env
    cands = [os.path.join(cuda_home, 'bin', 'cuobjdump')] if cuda_home else []
    cands += [shutil.which('cuobjdump', path=env.get('PATH')) or '',
              os.path.join(sp, 'triton', 'backends', 'nvidia', 'bin', 'cuobjdump')]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    return None


# ---------------------------------------------------------------- the plan


class Plan(NamedTuple):
    """How to build: the route, the nvcc and its release, the ``CUDA_HOME``, the arch list,
    the environment variables to set and why this route."""
    route: str
    nvcc: str
    release: str
    cuda_home: str
    arch_list: List[str]
    env: Dict[str, str]
    reason: str


def mismatch_message(nvcc: str, release: str, torch_version: str, tcuda: str,
                     toolkit_specs: Sequence[str]) -> str:
    """The refusal of a system nvcc whose CUDA major is not torch's: both versions, two fixes."""
    return (f'CUDA_FROM=system: nvcc {nvcc} is CUDA {release} but torch {torch_version} is '
            f'built for CUDA {tcuda}; an extension built with CUDA {major(release)} does not '
            f'load into a CUDA {major(tcuda)} torch. Fix (1): `CUDA_FROM=pip make cuda-build` '
            f'builds with the CUDA {tcuda} compiler wheels ({" ".join(toolkit_specs)}) and '
            f'leaves the system alone; fix (2): install a torch built for CUDA {release}, e.g. '
            f'`TORCH_INDEX_URL=https://download.pytorch.org/whl/cu{release.replace(".", "")} '
            'make install`, then `CUDA_FROM=system make cuda-build`.')


def make_plan(route: Optional[str], env: Dict[str, str], sp: str, torch_version: str,
              tcuda: Optional[str], home_dir: str, run: Runner = subprocess.run,
              install: Optional[Callable[[List[str]], None]] = None) -> Plan:
    """Chooses and prepares the toolchain.

    Args:
        route (str, optional): ``CUDA_FROM``: ``'system'``, ``'pip'`` or None/'' (system when
            its major matches torch's, else pip).
        env (dict): the environment (``CUDA_HOME``, ``PATH``, ``TORCH_CUDA_ARCH_LIST``).
        sp (str): the target environment's site-packages.
        torch_version (str), tcuda (str, optional): torch's version and ``torch.version.cuda``.
        home_dir (str): where the pip route assembles its ``CUDA_HOME``.
        install (callable, optional): installs pip requirements (pip route); None: the wheels
            must already be there.

    Raises:
        ToolchainError: bad ``CUDA_FROM`` / arch list, a CPU-only torch, no nvcc, a major
            mismatch, an arch the nvcc cannot build.
    """
    if route not in (None, '', *ROUTES):
        raise ToolchainError(f"CUDA_FROM={route!r}: allowed values are 'system' (the nvcc on "
                             "$CUDA_HOME/PATH), 'pip' (compiler wheels matching torch) or unset "
                             '(system when its CUDA major is torch\'s, else pip)')
    entries = parse_arch_list(env.get('TORCH_CUDA_ARCH_LIST') or visible_gpu_archs(run))
    if tcuda is None:
        raise ToolchainError(f'torch {torch_version} is a CPU-only build (torch.version.cuda '
                             'is None): install a CUDA build of torch (the PyPI torch on Linux '
                             'is one) before building CUDA ops')
    toolkit = dist_version('cuda-toolkit')
    specs = compiler_wheel_specs(tcuda, toolkit)
    reason = f'CUDA_FROM={route}'
    sys_nvcc = system_nvcc(env, exclude=home_dir)
    sys_release = nvcc_release(sys_nvcc, run) if sys_nvcc else None
    if not route:
        if sys_release and major(sys_release) == major(tcuda):
            route, reason = 'system', (f'CUDA_FROM unset: system nvcc {sys_nvcc} is CUDA '
                                       f'{sys_release}, torch is built for CUDA {tcuda}')
        else:
            have = (f'system nvcc {sys_nvcc} is CUDA {sys_release}' if sys_release
                    else 'no system nvcc')
            route, reason = 'pip', f'CUDA_FROM unset: {have}, torch is built for CUDA {tcuda}'
    extra: Dict[str, str] = {}
    if route == 'system':
        if not sys_nvcc or not sys_release:
            raise ToolchainError(
                'CUDA_FROM=system: no working nvcc ($CUDA_HOME/bin, PATH, /usr/local/cuda/bin). '
                f'Fix: install a CUDA {major(tcuda)}.x toolkit and set CUDA_HOME, or '
                f'`CUDA_FROM=pip make cuda-build` ({" ".join(specs)})')
        if major(sys_release) != major(tcuda):
            raise ToolchainError(mismatch_message(sys_nvcc, sys_release, torch_version, tcuda,
                                                  specs))
        nvcc, release = sys_nvcc, sys_release
        home = nvcc_top(nvcc, run) or os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
        inc = library_header_dirs(home, sp)
        if inc:  # a compiler-only toolkit: torch's CUDA library wheels have the headers
            extra['CPATH'] = os.pathsep.join(inc + ([env['CPATH']] if env.get('CPATH') else []))
    else:
        if wheel_nvcc(sp) is None or (install is not None and not _wheels_match(sp, specs)):
            if install is None:
                raise ToolchainError(f'CUDA_FROM=pip: the nvcc wheels are not installed in '
                                     f'{sp}: `pip install "{" ".join(specs)}"`')
            install(specs)
        home = assemble_cuda_home(wheel_roots(sp), home_dir)
        nvcc = os.path.join(home, 'bin', 'nvcc')
        release = nvcc_release(nvcc, run) or '?'
        if major(release) != major(tcuda):
            raise ToolchainError(f'CUDA_FROM=pip: the nvcc wheel in {sp} is CUDA {release} but '
                                 f'torch {torch_version} is built for CUDA {tcuda}: '
                                 f'`pip install --force-reinstall "{" ".join(specs)}"`')
    bad = unsupported_archs(entries, nvcc_sm_list(nvcc, run))
    if bad:
        raise ToolchainError(f'TORCH_CUDA_ARCH_LIST: nvcc {release} cannot build '
                             f'{", ".join(bad)} (nvcc --list-gpu-code: '
                             f'{" ".join(nvcc_sm_list(nvcc, run))}); choose among those')
    path = os.path.join(home, 'bin') + os.pathsep + env.get('PATH', '')
    extra.update(CUDA_HOME=home, PATH=path, TORCH_CUDA_ARCH_LIST=';'.join(entries))
    return Plan(route, nvcc, release, home, entries, extra, reason)


def _wheels_match(sp: str, specs: Sequence[str]) -> bool:
    """Whether the installed nvcc wheel is the release the specs pin (cheap check)."""
    nvcc_dist = dist_version('nvidia-cuda-nvcc') or dist_version('nvidia-cuda-nvcc-cu12')
    if nvcc_dist is None:
        return False
    if specs and specs[0].startswith('cuda-toolkit'):
        return dist_version('nvidia-cuda-cccl') is not None
    pin = re.search(r'==([\d.]+)', specs[0]) if specs else None
    return pin is None or nvcc_dist.startswith(pin.group(1).rstrip('.'))


# ---------------------------------------------------------------- checks of a build


def check_cubins(so_path: str, entries: Sequence[str], cuobjdump: Optional[str],
                 run: Runner = subprocess.run) -> Dict[str, object]:
    """Cubins (and PTX) per arch in ``so_path`` and the requested entries that lack one."""
    if cuobjdump is None:
        raise ToolchainError('cuobjdump not found ($CUDA_HOME/bin, PATH, triton/backends/'
                             'nvidia/bin): install triton (torch on Linux pulls it) or a CUDA '
                             'toolkit to check the built architectures')
    rc, out = _run([cuobjdump, '--list-elf', so_path], run)
    if rc != 0:
        raise ToolchainError(f'cuobjdump --list-elf {so_path} failed: {out.strip()[:300]}')
    cubins = elf_counts(out)
    ptx = None
    if any(e.endswith('+PTX') for e in entries):
        _, pout = _run([cuobjdump, '--list-ptx', so_path], run)
        ptx = ptx_counts(pout)
    return dict(cubins=cubins, ptx=ptx, missing=missing_archs(entries, cubins, ptx),
                cuobjdump=cuobjdump)


def mmcv_ext_path() -> str:
    """The path of the installed ``mmcv._ext`` library."""
    import importlib.util
    spec = importlib.util.find_spec('mmcv._ext')
    if spec is None or not spec.origin:
        raise ToolchainError('mmcv._ext is not installed: mmcv was built without ops '
                             '(MMCV_WITH_OPS=1 is needed)')
    return spec.origin


def random_boxes(seed: int = 0, n: int = 300):
    """``n`` random boxes (x1, y1, x2, y2) and distinct scores (so ``nms`` has no ties), the
    input of the two ``nms`` checks."""
    import torch
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 30 + 1
    return torch.cat([xy, xy + wh], 1), torch.randperm(n, generator=g).float() / n


def nms_gpu_vs_cpu(seed: int = 0, n: int = 300) -> Dict[str, object]:
    """``mmcv.ops.nms`` of random boxes on the GPU and on the CPU: the kept indices must be
    equal."""
    from mmcv.ops import nms
    boxes, scores = random_boxes(seed, n)
    _, keep_cpu = nms(boxes, scores, 0.5)
    _, keep_gpu = nms(boxes.cuda(), scores.cuda(), 0.5)
    same = keep_cpu.tolist() == keep_gpu.cpu().tolist()
    return dict(boxes=n, kept_cpu=len(keep_cpu), kept_gpu=len(keep_gpu), equal=same)


def nms_cpu_vs_torchvision(seed: int = 0, n: int = 300) -> Dict[str, object]:
    """``mmcv.ops.nms`` of random boxes on the CPU against ``torchvision.ops.nms``: a CUDA
    build's CPU kernels run (no GPU needed) and keep the same boxes."""
    import torchvision
    from mmcv.ops import nms
    boxes, scores = random_boxes(seed, n)
    _, keep = nms(boxes, scores, 0.5)
    ref = torchvision.ops.nms(boxes, scores, 0.5)
    return dict(boxes=n, kept=len(keep), equal=keep.tolist() == ref.tolist())


def verify_mmcv(entries: Sequence[str], cuda_home: Optional[str],
                run: Runner = subprocess.run,
                expected_version: Optional[str] = None) -> Dict[str, object]:
    """Checks the installed mmcv without a GPU (and with one when present): ``mmcv.ops``
    imports, ``get_compiling_cuda_version()`` is ``torch.version.cuda``, a cubin for every
    requested arch, ``nms`` on the CPU equals torchvision's; with a GPU, ``nms`` on the GPU
    equals the CPU result.

    Returns:
        dict: the findings, ``problems`` empty when all hold.
    """
    import torch
    problems: List[str] = []
    out: Dict[str, object] = dict(torch=torch.__version__, torch_cuda=torch.version.cuda)
    try:
        import mmcv
        from mmcv.ops import get_compiling_cuda_version
        out['mmcv'] = mmcv.__version__
        out['compiled_cuda'] = get_compiling_cuda_version()
    except Exception as e:  # noqa: BLE001 -- reported as the problem
        return dict(out, problems=[f'mmcv.ops does not import: {type(e).__name__}: {e}'])
    if expected_version and out['mmcv'] != expected_version:
        problems.append(f'mmcv {out["mmcv"]} is installed, the build was of {expected_version}')
    if out['compiled_cuda'] != torch.version.cuda:
        problems.append(f'mmcv ops compiled with CUDA {out["compiled_cuda"]}, torch uses CUDA '
                        f'{torch.version.cuda}')
    so = mmcv_ext_path()
    out['ext'] = so
    out['ext_mb'] = round(os.path.getsize(so) / 2**20, 1)
    cub = check_cubins(so, entries, find_cuobjdump(cuda_home, site_packages()), run)
    out.update(cubins=cub['cubins'], ptx=cub['ptx'])
    if cub['missing']:
        problems.append(f'{so} lacks requested architectures: {", ".join(cub["missing"])} '
                        f'(cubins: {cub["cubins"]})')
    out['nms_cpu'] = nms_cpu_vs_torchvision()
    if not out['nms_cpu']['equal']:
        problems.append(f'mmcv.ops.nms on the CPU differs from torchvision: {out["nms_cpu"]}')
    if torch.cuda.is_available():
        out['nms'] = nms_gpu_vs_cpu()
        out['gpu'] = torch.cuda.get_device_name(0)
        if not out['nms']['equal']:
            problems.append(f'mmcv.ops.nms on the GPU differs from the CPU: {out["nms"]}')
    else:
        out['nms'] = 'skipped: no GPU visible to torch'
    out['problems'] = problems
    return out


# ---------------------------------------------------------------- the smoke extension

SMOKE_SRC = r'''
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>

__global__ void add_one_kernel(const float* x, float* y, int64_t n) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] + 1.0f;
}

torch::Tensor add_one(torch::Tensor x) {
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == torch::kFloat, "x: a float CUDA tensor");
  auto xc = x.contiguous();
  auto y = torch::empty_like(xc);
  int64_t n = xc.numel();
  int threads = 256;
  int blocks = (int)((n + threads - 1) / threads);
  if (n > 0) {
    add_one_kernel<<<blocks, threads, 0, at::cuda::getCurrentCUDAStream()>>>(
        xc.data_ptr<float>(), y.data_ptr<float>(), n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return y;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("add_one", &add_one, "x + 1 on the GPU"); }
'''

SMOKE_SETUP = '''
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension
setup(name='repl_mm_cuda_smoke',
      ext_modules=[CUDAExtension('repl_mm_cuda_smoke', ['smoke.cu'])],
      cmdclass={'build_ext': BuildExtension})
'''


def build_smoke(plan: Plan, workdir: str, env: Dict[str, str],
                run: Runner = subprocess.run) -> Dict[str, object]:
    """Compiles the tiny CUDAExtension (a kernel launched on ``at::cuda::getCurrentCUDAStream``
    from ``ATen/cuda/CUDAContext.h``) with ``plan``'s toolchain in ``workdir``, imports it in a
    fresh interpreter (and runs it when a GPU is visible), and lists its cubins.

    Returns:
        dict: seconds, the cubins per arch, the missing archs, the import check.
    """
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'smoke.cu'), 'w') as f:
        f.write(SMOKE_SRC)
    with open(os.path.join(workdir, 'setup.py'), 'w') as f:
        f.write(SMOKE_SETUP)
    build_env = dict(env, **plan.env)
    build_env.setdefault('MAX_JOBS', '2')
    t0 = time.time()
    proc = run([sys.executable, 'setup.py', 'build_ext', '--inplace'], cwd=workdir,
               env=build_env, capture_output=True, text=True)
    seconds = round(time.time() - t0, 1)
    log = (proc.stdout or '') + (proc.stderr or '')
    if proc.returncode != 0:
        raise ToolchainError(f'the smoke extension did not compile with {plan.nvcc} '
                             f'(CUDA_FROM={plan.route}):\n{log[-3000:]}')
    so = [os.path.join(workdir, n) for n in os.listdir(workdir)
          if n.startswith('repl_mm_cuda_smoke') and n.endswith('.so')]
    if not so:
        raise ToolchainError(f'the smoke build produced no library in {workdir}')
    probe = ('import torch, repl_mm_cuda_smoke as m\n'
             'if torch.cuda.is_available():\n'
             '    x = torch.arange(5., device="cuda")\n'
             '    assert m.add_one(x).tolist() == [1., 2., 3., 4., 5.], m.add_one(x)\n'
             '    print("ran on", torch.cuda.get_device_name(0))\n'
             'else:\n'
             '    print("imported (no GPU to run it)")\n')
    rc, imported = _run([sys.executable, '-c', probe], run, env=dict(build_env, PYTHONPATH=workdir))
    if rc != 0:
        raise ToolchainError(f'the smoke extension does not import/run: {imported.strip()[-800:]}')
    cub = check_cubins(so[0], plan.arch_list, find_cuobjdump(plan.cuda_home, site_packages()),
                       run)
    return dict(route=plan.route, nvcc=plan.nvcc, release=plan.release,
                arch_list=';'.join(plan.arch_list), seconds=seconds, library=so[0],
                cubins=cub['cubins'], missing=cub['missing'], run=imported.strip(),
                warnings=count_warnings(log))


# ---------------------------------------------------------------- the mmcv build


def count_warnings(log: str) -> Dict[str, int]:
    """Compiler warnings in a build log, by kind: the text after ``warning:`` /
    ``warning #N-D:`` with quoted names replaced by ``'...'`` (at most 90 characters);
    setuptools' own notes (``warning: build_py: byte-compiling is disabled``) are not counted."""
    kinds: Counter = Counter()
    for m in re.finditer(r'warning(?: #\d+-D)?: ([^\n]+)', log):
        if re.match(r'\w+: byte-compiling is disabled', m.group(1)):
            continue
        text = re.sub(r"(['\"\u2018`]).*?(['\"\u2019`])", "'...'", m.group(1).strip())
        kinds[text[:90]] += 1
    return dict(kinds.most_common())


def split_package(spec: str) -> Tuple[str, str]:
    """``'onedl-mmcv==2.3.6'`` -> ``('onedl-mmcv', '2.3.6')``; anything else is refused naming
    the allowed forms."""
    name, sep, version = spec.partition('==')
    if not sep or name not in PACKAGES or not re.fullmatch(r'\d+(\.\d+)+', version):
        raise ToolchainError(f'--package {spec!r}: allowed values are '
                             f'{" or ".join(p + "==X.Y.Z" for p in PACKAGES)} (e.g. '
                             f'{DEFAULT_PACKAGE}, onedl-mmcv==2.3.6)')
    return name, version


def wheel_key(torch_version: str, tcuda: str, release: str, entries: Sequence[str],
              package: str = DEFAULT_PACKAGE) -> str:
    """The folder name of a built wheel: everything that makes it fit an environment."""
    name, version = split_package(package)
    archs = '-'.join(e.replace('.', '').replace('+PTX', 'ptx') for e in entries)
    py = f'py{sys.version_info[0]}{sys.version_info[1]}'
    return (f'{name}-{version}-torch{torch_version.replace("+", "_")}-cu{tcuda}'
            f'-nvcc{release}-sm{archs}-{py}')


def needs_cxx20(torch_version: str) -> bool:
    """torch >= 2.14's headers refuse anything older than C++20 (``#error C++20 or later
    compatible compiler is required to use ATen``)."""
    parts = re.findall(r'\d+', torch_version.split('+')[0])[:2]
    return tuple(int(p) for p in parts) >= (2, 14)


def patch_cxx_standard(setup_py: str, torch_version: str) -> List[str]:
    """mmcv's ``setup.py`` (2.1.0 and onedl-mmcv 2.3.6) passes ``-std=c++17``, which overrides
    torch's own flag; with torch >= 2.14 that is replaced by ``-std=c++20`` in ``setup_py``.

    Returns:
        list: the patches applied (empty when none was needed), for the build record.
    """
    with open(setup_py) as f:
        text = f.read()
    if not needs_cxx20(torch_version) or "'-std=c++17'" not in text:
        return []
    n = text.count("'-std=c++17'")
    with open(setup_py, 'w') as f:
        f.write(text.replace("'-std=c++17'", "'-std=c++20'"))
    return [f"setup.py: '-std=c++17' -> '-std=c++20' ({n}x; torch {torch_version} needs C++20)"]


def prepare_source(package: str, dest: str, torch_version: str,
                   sdist: Optional[str] = None) -> Tuple[str, List[str]]:
    """The source tree to build ``package`` from: ``sdist`` (a ``.tar.gz``, the offline kit's)
    or the registry's source archive, unpacked into ``dest`` and patched for torch
    (:func:`patch_cxx_standard`). The one source preparation of the CPU build of
    ``tools/install_onedl_env.sh`` and the CUDA builds here.

    Returns:
        tuple: the source folder and the patches applied.
    """
    import tarfile
    split_package(package)
    os.makedirs(dest, exist_ok=True)
    if sdist is None:
        rc, _ = _pip(['download', '--isolated', '--disable-pip-version-check', '-q', '--no-deps',
                      '--no-binary', ':all:', '-d', dest, package])
        archives = [n for n in os.listdir(dest) if n.endswith('.tar.gz')]
        if rc != 0 or not archives:
            raise ToolchainError(f'pip could not download the source archive of {package} '
                                 f'(exit {rc}); offline, pass --sdist PATH')
        sdist = os.path.join(dest, archives[0])
    with tarfile.open(sdist) as tar:
        top = {m.name.split('/')[0] for m in tar.getmembers()}
        if hasattr(tarfile, 'data_filter'):  # Python >= 3.11.4 / 3.12: no path escapes
            tar.extractall(dest, filter='data')
        else:
            tar.extractall(dest)
    if len(top) != 1:
        raise ToolchainError(f'{sdist}: expected one top folder in the archive, found '
                             f'{sorted(top)}')
    src = os.path.join(dest, top.pop())
    return src, patch_cxx_standard(os.path.join(src, 'setup.py'), torch_version)


def _pip(args: Sequence[str], env: Optional[Dict[str, str]] = None,
         log: Optional[str] = None) -> Tuple[int, str]:
    cmd = [sys.executable, '-m', 'pip', *args]
    print('cuda-build: ' + ' '.join(cmd), file=sys.stderr, flush=True)
    if log:
        with open(log, 'a') as f:
            proc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
        with open(log) as f:
            return proc.returncode, f.read()
    proc = subprocess.run(cmd, env=env)
    return proc.returncode, ''


def install_specs(specs: List[str]) -> None:
    """pip-installs the compiler wheels (``--isolated`` like ``tools/install_env.sh``)."""
    rc, _ = _pip(['install', '--isolated', '--disable-pip-version-check', '--progress-bar',
                  'off', '-q', *specs])
    if rc != 0:
        raise ToolchainError(f'pip could not install {" ".join(specs)} (exit {rc})')


def build_mmcv(plan: Plan, wheel_root: str, env: Dict[str, str], sdist: Optional[str] = None,
               rebuild: bool = False, package: str = DEFAULT_PACKAGE) -> Dict[str, object]:
    """Builds (or reuses) the CUDA wheel of ``package`` for ``plan`` under
    ``wheel_root/<key>/``, installs it (``--no-deps --force-reinstall``) and verifies it;
    writes ``record.json`` beside the wheel.

    Args:
        sdist (str, optional): a source archive to build (the offline kit); default the
            registry's source of ``package``.
        rebuild (bool): build even when a wheel for this key exists.
        package (str): ``mmcv==2.1.0`` (default) or ``onedl-mmcv==2.3.6`` (the OneDL stack).
            With torch >= 2.14 the source is unpacked and built with C++20
            (:func:`prepare_source`); otherwise pip builds the archive or the registry's
            source directly.
    """
    tv, tcuda = torch_cuda()
    name, version = split_package(package)
    key = wheel_key(tv, tcuda, plan.release, plan.arch_list, package)
    folder = os.path.join(wheel_root, key)
    wheels = sorted(n for n in os.listdir(folder) if n.endswith('.whl')) \
        if os.path.isdir(folder) else []
    record_path = os.path.join(folder, 'record.json')
    record: Dict[str, object] = {}
    if wheels and not rebuild:
        print(f'cuda-build: reusing {os.path.join(folder, wheels[-1])} (REBUILD=1 builds anew)')
        if os.path.exists(record_path):
            with open(record_path) as f:
                record = json.load(f)
        record['reused'] = True
    else:
        os.makedirs(folder, exist_ok=True)
        log = os.path.join(folder, 'build.log')
        open(log, 'w').close()
        build_env = dict(env, **plan.env, FORCE_CUDA='1', MMCV_WITH_OPS='1')
        build_env.setdefault('MAX_JOBS', str(os.cpu_count() or 2))
        source, patches = sdist or package, []
        if needs_cxx20(tv):
            source, patches = prepare_source(package, os.path.join(folder, 'src'), tv, sdist)
        print(f'cuda-build: building {package} with CUDA ops: nvcc {plan.release} '
              f'({plan.route}: {plan.nvcc}), TORCH_CUDA_ARCH_LIST={";".join(plan.arch_list)}, '
              f'MAX_JOBS={build_env["MAX_JOBS"]}; log: {log} (about 15 min at 2 cores for one '
              'arch)', flush=True)
        t0 = time.time()
        rc, text = _pip(['wheel', '--isolated', '--disable-pip-version-check', '--no-deps',
                         '--no-build-isolation', '--no-cache-dir', '--no-binary', name,
                         '-v', '-w', folder, source], env=build_env, log=log)
        seconds = round(time.time() - t0)
        if rc != 0:
            raise ToolchainError(f'the {package} build failed (exit {rc}) after {seconds} s; the '
                                 f'last lines of {log}:\n' + '\n'.join(text.splitlines()[-25:]))
        wheels = sorted(n for n in os.listdir(folder) if n.endswith('.whl'))
        steps = re.findall(r'^\s*\[(\d+)/(\d+)\]', text, re.M)
        record = dict(seconds=seconds, ninja_steps=int(steps[-1][1]) if steps else None,
                      warnings=count_warnings(text), max_jobs=build_env['MAX_JOBS'],
                      machine=machine_line(), built_utc=time.strftime('%Y-%m-%dT%H:%MZ',
                                                                      time.gmtime()),
                      reused=False, patches=patches)
    rc, _ = _pip(['install', '--isolated', '--disable-pip-version-check', '-q', '--no-deps',
                  '--force-reinstall', os.path.join(folder, wheels[-1])])
    if rc != 0:
        raise ToolchainError(f'pip could not install {wheels[-1]} (exit {rc})')
    checks = verify_mmcv(plan.arch_list, plan.cuda_home, expected_version=version)
    record.update(package=package, route=plan.route, nvcc=plan.nvcc,
                  nvcc_release=nvcc_release_line(plan.nvcc),
                  arch_list=';'.join(plan.arch_list), wheel=os.path.join(folder, wheels[-1]),
                  **{k: v for k, v in checks.items() if k != 'problems'},
                  problems=checks['problems'])
    with open(record_path, 'w') as f:
        json.dump(record, f, indent=1, sort_keys=True)
    return record


def machine_line() -> str:
    """``'x86_64, 2 cores, 24 GiB, Linux 6.1'``: what a build was timed on."""
    mem = ''
    try:
        with open('/proc/meminfo') as f:
            kb = int(re.search(r'MemTotal:\s+(\d+)', f.read()).group(1))
        mem = f', {round(kb / 2**20)} GiB'
    except (OSError, AttributeError):
        pass
    return (f'{platform.machine()}, {os.cpu_count()} cores{mem}, {platform.system()} '
            f'{platform.release().split("-")[0]}, Python {platform.python_version()}')


# ---------------------------------------------------------------- command line


def _home_dir(env: Dict[str, str]) -> str:
    return env.get('CUDA_HOME_DIR') or os.path.join(sys.prefix, 'cuda_home')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Commands (run by path with the target environment's python; one ``cuda-build:`` error
    line and exit 2 on a problem):

    * ``specs``: the pip requirements of the compiler wheels matching torch, one a line;
    * ``plan``: chooses the route (``CUDA_FROM``) and prints the plan as JSON, installing
      nothing (the pip route needs the compiler wheels present);
    * ``env``: the same, printed as ``export`` lines for a shell;
    * ``build [--package SPEC] [--rebuild] [--sdist PATH] [--wheel-dir DIR]``: installs the
      compiler wheels (pip route), builds or reuses the wheel of ``SPEC`` (``mmcv==2.1.0``,
      default, or ``onedl-mmcv==2.3.6``), installs and verifies it;
    * ``source SPEC DEST [--sdist PATH]``: unpacks the source of ``SPEC`` into ``DEST``,
      patched for the installed torch (:func:`prepare_source`), and prints its folder (the CPU
      build of ``tools/install_onedl_env.sh``; needs no CUDA);
    * ``verify``: checks the installed mmcv (:func:`verify_mmcv`);
    * ``smoke [--workdir DIR]``: compiles and checks the tiny extension (:func:`build_smoke`).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    cmd = args.pop(0) if args else ''
    env = dict(os.environ)

    def opt(name: str, default: Optional[str] = None) -> Optional[str]:
        if name in args:
            i = args.index(name)
            if i + 1 >= len(args):
                raise ToolchainError(f'{name} needs a value')
            value = args[i + 1]
            del args[i:i + 2]
            return value
        return default

    try:
        if cmd not in ('specs', 'plan', 'env', 'build', 'verify', 'smoke', 'source'):
            print('usage: cuda_toolchain.py specs | plan | env | build [--package SPEC] '
                  '[--rebuild] [--sdist PATH] [--wheel-dir DIR] | verify | smoke '
                  '[--workdir DIR] | source SPEC DEST [--sdist PATH]', file=sys.stderr)
            return 64
        if cmd == 'source':
            sdist = opt('--sdist')
            if len(args) != 2:
                raise ToolchainError('source: needs SPEC and DEST, e.g. `source '
                                     'onedl-mmcv==2.3.6 /tmp/src`')
            src, patches = prepare_source(args[0], args[1], dist_version('torch') or '0',
                                          sdist)
            for p in patches:
                print(f'cuda-build: patched {p}', file=sys.stderr)
            print(src)
            return 0
        tv, tcuda = torch_cuda()
        route = env.get('CUDA_FROM')
        if cmd == 'specs':
            if tcuda is None:
                raise ToolchainError(f'torch {tv} is a CPU-only build: no CUDA compiler fits')
            print('\n'.join(compiler_wheel_specs(tcuda, dist_version('cuda-toolkit'))))
            return 0
        if cmd == 'verify':
            entries = parse_arch_list(env.get('TORCH_CUDA_ARCH_LIST'))
            home = env.get('CUDA_HOME')
            out = verify_mmcv(entries, home)
            print(json.dumps(out, indent=1, sort_keys=True))
            if out['problems']:
                raise ToolchainError('; '.join(out['problems']))
            return 0
        package = opt('--package') or DEFAULT_PACKAGE
        split_package(package)  # a bad --package is refused before any install or build
        installer = install_specs if cmd == 'build' else None
        plan = make_plan(route, env, site_packages(), tv, tcuda, _home_dir(env), install=installer)
        if cmd == 'plan':
            print(json.dumps(plan._asdict(), indent=1))
        elif cmd == 'env':
            for k, v in plan.env.items():
                print(f'export {k}={shlex_quote(v)}')
        elif cmd == 'smoke':
            workdir = opt('--workdir') or tempfile.mkdtemp(prefix='repl_mm_cuda_smoke_')
            out = build_smoke(plan, workdir, env)
            print(json.dumps(out, indent=1))
            if out['missing']:
                raise ToolchainError(f'smoke extension lacks {", ".join(out["missing"])}')
        else:
            rebuild = '--rebuild' in args or env.get('REBUILD') == '1'
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            wheel_dir = opt('--wheel-dir') or os.path.join(root, '.whl', 'mmcv-cuda')
            print(f'cuda-build: {plan.reason} -> CUDA_FROM={plan.route}, nvcc {plan.release} '
                  f'({plan.nvcc}), CUDA_HOME={plan.cuda_home}', flush=True)
            record = build_mmcv(plan, wheel_dir, env, sdist=opt('--sdist'), rebuild=rebuild,
                                package=package)
            print(json.dumps(record, indent=1, sort_keys=True))
            if record['problems']:
                raise ToolchainError('; '.join(record['problems']))
            print(f'cuda-build: OK -- {package}: mmcv {record.get("mmcv")} CUDA '
                  f'{record.get("compiled_cuda")}'
                  f', cubins {record.get("cubins")}, wheel kept at {record["wheel"]}')
    except ToolchainError as e:
        print(f'cuda-build: STOP -- {e}', file=sys.stderr)
        return 2
    return 0


def shlex_quote(value: str) -> str:
    import shlex
    return shlex.quote(value)


if __name__ == '__main__':
    sys.exit(main())
