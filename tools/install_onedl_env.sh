#!/usr/bin/env bash
# Creates .venv-onedl (or $ONEDL_VENV) with OneDL's maintained fork of the OpenMMLab stack, the
# "OneDL" cell of the support matrix (docs/compatibility.md, `make test-matrix`):
# onedl-mmengine, onedl-mmcv built from source with CPU ops, onedl-mmdetection,
# onedl-mmsegmentation, onedl-mmpretrain, numpy 2 and the newest torch/torchvision that
# onedl-mmcv declares (its metadata: torch>=2.4 outside Python 3.12, no upper bound, so the
# newest release; this machine's pip constraint caps it at 2.14.1). All versions come from
# repl_mm/version.py (ONEDL_STACK). Idempotent: a stamp makes a second run instant.
# torch is installed with `pip --isolated` (the registry build, as tools/install_env.sh does).
# onedl-mmcv's ops follow tools/install_env.sh's rule (repl_mm/utils/envcheck.py `mode`): CPU
# ops without a GPU; CUDA ops with one or FORCE_CUDA=1, built by repl_mm/utils/cuda_toolchain.py
# (`build --package onedl-mmcv==...`: CUDA_FROM=system|pip, TORCH_CUDA_ARCH_LIST, MAX_JOBS, the
# wheel kept in .whl/mmcv-cuda/ and verified: docs/gpu.md). Both builds take the source through
# `cuda_toolchain.py source`, which patches it for torch >= 2.14 (C++20).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
VENV="${ONEDL_VENV:-$root/.venv-onedl}"
PIP=("$VENV/bin/python" -m pip install --isolated --disable-pip-version-check --progress-bar off)
# the pins, read by path (stdlib only): no torch or repl_mm import needed
mapfile -t PINS < <("$PY" "$root/repl_mm/version.py" pins onedl)
mapfile -t TORCH_PKGS < <(printf '%s\n' "${PINS[@]}" | grep -E '^(torch|torchvision)==')
MMCV_PKG="$(printf '%s\n' "${PINS[@]}" | grep -E '^onedl-mmcv==')"
MMENGINE_PKG="$(printf '%s\n' "${PINS[@]}" | grep -E '^onedl-mmengine==')"
mapfile -t REST < <(printf '%s\n' "${PINS[@]}" | grep -vE '^(torch|torchvision|onedl-mmcv|onedl-mmengine)==')
BUILD_PKGS=("setuptools>=77,<81" wheel ninja)
# what the matrix subset needs besides the toolboxes (numpy-2 builds of onnx/onnxruntime)
EXTRA_PKGS=(pycocotools ftfy regex "opencv-python-headless" pytest pytest-timeout onnx onnxruntime
            scikit-learn)

TOOLCHAIN="$root/repl_mm/utils/cuda_toolchain.py"
# cpu or cuda (FORCE_CUDA=1/0 forces); stops here when nvidia-smi exists but fails
OPS_MODE="$("$PY" "$root/repl_mm/utils/envcheck.py" mode)"
# 0 when the installed onedl-mmcv has the ops of OPS_MODE (CUDA: compiled with torch's CUDA
# major): the same rule as tools/install_env.sh's, with the fork's version
mmcv_ok() {
  ! "$VENV/bin/python" "$root/repl_mm/utils/envcheck.py" mmcv-rebuild "$OPS_MODE" "${MMCV_PKG#*==}" >/dev/null 2>&1
}

stamp="$(printf '%s\n' "${PINS[@]}" "${BUILD_PKGS[@]}" "${EXTRA_PKGS[@]}" "OPS_MODE=$OPS_MODE" \
         "TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-}" "CUDA_FROM=${CUDA_FROM:-}" | sha256sum | cut -c1-16)"
if [[ -f "$VENV/.repl_mm_stamp" && "$(cat "$VENV/.repl_mm_stamp")" == "$stamp" ]] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, mmpretrain" 2>/dev/null && mmcv_ok; then
  echo "install-onedl: $VENV is up to date ($stamp)"
  exit 0
fi
start=$SECONDS
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
"${PIP[@]}" -q --upgrade pip
"${PIP[@]}" -q "${BUILD_PKGS[@]}" "numpy>=2"
"${PIP[@]}" -q "${TORCH_PKGS[@]}"
"${PIP[@]}" -q "$MMENGINE_PKG"
if [[ "$OPS_MODE" == cuda ]]; then
  if ! mmcv_ok; then
    # the compiler wheels of torch's CUDA release (used by CUDA_FROM=pip, or unset without a
    # matching system nvcc), then the build, reused from .whl/mmcv-cuda/ when it fits. The
    # build is verified at once (`import mmcv.ops` needs cv2, which onedl-mmengine, unlike
    # OpenMMLab's mmengine, does not bring), so OpenCV comes first.
    mapfile -t NVCC_SPECS < <("$VENV/bin/python" "$TOOLCHAIN" specs)
    "${PIP[@]}" -q "${NVCC_SPECS[@]}" opencv-python-headless
    echo "install-onedl: building $MMCV_PKG with CUDA ops (docs/gpu.md)"
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$VENV/bin/python" "$TOOLCHAIN" build --package "$MMCV_PKG"
  fi
elif ! mmcv_ok; then
  # the compiled wheel is kept outside the clone (like pip's cache), one folder per torch, so a
  # second clone or CI run on this machine installs it in seconds instead of building again
  torch_v="$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
  WHEELS="${REPL_MM_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/repl_mm/wheels}/torch-$torch_v-cpu"
  mkdir -p "$WHEELS"
  whl="$(ls "$WHEELS"/onedl_mmcv-"${MMCV_PKG#*==}"-*.whl 2>/dev/null | head -1 || true)"
  if [[ -z "$whl" ]]; then
    echo "install-onedl: building $MMCV_PKG from source with CPU ops (78 objects: about 15 min on 2 idle cores, over an hour on busy ones); the wheel goes to $WHEELS"
    t0=$SECONDS
    # Upstream breakage (docs/compatibility.md): onedl-mmcv 2.3.6's setup.py passes -std=c++17,
    # which overrides torch's own flag, and torch >= 2.14's headers need C++20 ("#error C++20 or
    # later compatible compiler is required to use ATen"): `source` patches it then.
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    src="$("$VENV/bin/python" "$TOOLCHAIN" source "$MMCV_PKG" "$tmp")"
    FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" MMCV_WITH_OPS=1 \
      "$VENV/bin/python" -m pip wheel --isolated --disable-pip-version-check -q --no-deps \
      --no-build-isolation -w "$WHEELS" "$src"
    whl="$(ls "$WHEELS"/onedl_mmcv-"${MMCV_PKG#*==}"-*.whl | head -1)"
    echo "install-onedl: $MMCV_PKG built in $((SECONDS - t0)) s"
  fi
  "${PIP[@]}" -q --no-deps "$whl"
fi
# pins again so that nothing up- or downgrades torch, numpy or the fork
"${PIP[@]}" -q "${REST[@]}" "${EXTRA_PKGS[@]}" "${TORCH_PKGS[@]}" "$MMENGINE_PKG" "$MMCV_PKG"
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$root"
"$VENV/bin/python" -c "import numpy, torch, torchvision, mmengine, mmcv.ops, mmdet, mmseg, mmpretrain; print('install-onedl: torch', torch.__version__, 'torchvision', torchvision.__version__, 'numpy', numpy.__version__, 'mmengine', mmengine.__version__, 'mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, 'mmseg', mmseg.__version__, 'mmpretrain', mmpretrain.__version__)"
mmcv_ok || { echo "install-onedl: STOP -- the installed $MMCV_PKG lacks the $OPS_MODE ops it was built with (replaced by the last pip step?)" >&2; exit 2; }
echo "$stamp" > "$VENV/.repl_mm_stamp"
echo "install-onedl: done in $((SECONDS - start)) s"
