#!/usr/bin/env bash
# Creates .venv in the repository root with the pinned OpenMMLab stack and installs
# repl_mm in editable mode. Idempotent: a second run with nothing changed returns at once.
# (Installing into an OpenMMLab environment you already have: `pip install -e . --no-deps`,
# README "Existing OpenMMLab environment"; this script is the fresh-machine path.)
#
# What this encodes (see README "Set-up"):
# * torch and torchvision come from the package registry (pip --isolated), never from
#   the CPU-only torch file some machines keep as a local find-link: torchvision's
#   compiled ops only load with the registry build. TORCH_INDEX_URL=<url> installs them from
#   another index instead (e.g. https://download.pytorch.org/whl/cu126 for an older driver);
#   pip --isolated ignores PIP_INDEX_URL, so the URL is passed as --index-url.
# * mmcv 2.1.0 (mmdet 3.3.0 and mmseg 1.2.2 refuse >= 2.2) is built from source with
#   --no-build-isolation after setuptools<81 (its setup.py imports pkg_resources) and
#   torch are in place. Its ops mode (repl_mm/utils/envcheck.py, run by path: no torch needed):
#   - no NVIDIA GPU (no nvidia-smi) or FORCE_CUDA=0: CPU ops, as before;
#   - a GPU (nvidia-smi lists one) or FORCE_CUDA=1 (`make cuda-build`): CUDA ops. Checked
#     first: torch sees the GPU; then repl_mm/utils/cuda_toolchain.py (docs/gpu.md) picks the
#     compiler (CUDA_FROM=system|pip; a system nvcc of another CUDA major is refused with the
#     two fixes), builds for TORCH_CUDA_ARCH_LIST (the visible GPUs', yours, else 8.0;9.0)
#     with MAX_JOBS, keeps the wheel in .whl/mmcv-cuda/ for the next install, and verifies it
#     (mmcv.ops, get_compiling_cuda_version() == torch.version.cuda, cuobjdump cubins per
#     arch, nms GPU vs CPU with a GPU). A CPU-only or mismatched mmcv is rebuilt.
#   The stamp includes the mode, so a .venv made without CUDA ops is revisited on a GPU;
#   REBUILD=1 builds again (another CUDA_FROM / TORCH_CUDA_ARCH_LIST over a CUDA mmcv).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
VENV="${VENV:-$root/.venv}"  # VENV=/path/to/env: another environment (make cuda-build VENV=...)
PIP=("$VENV/bin/python" -m pip install --isolated --disable-pip-version-check --progress-bar off)
ENVCHECK="$root/repl_mm/utils/envcheck.py"

TORCH_PKGS=(torch==2.13.0 torchvision==0.28.0)
BUILD_PKGS=("setuptools>=77,<81" wheel ninja)
MM_PKGS=(mmengine==0.10.7)
MMCV_PKG=mmcv==2.1.0
# onnx / onnxruntime: ONNX export of deploy models, checked in onnxruntime
# (tools/deployment/pytorch2onnx.py); both resolve with numpy<2 on Python 3.11.
TOOLBOX_PKGS=(mmdet==3.3.0 mmsegmentation==1.2.2 mmpretrain==1.2.0 pycocotools ftfy regex
              "numpy<2" "opencv-python-headless<4.12" matplotlib seaborn pandas pytest
              pytest-timeout ruff==0.17.6 scikit-learn onnx==1.23.2 onnxruntime==1.31.1)
# scikit-learn: docs/evidence.md's digits

# cpu or cuda (FORCE_CUDA=1/0 forces); stops here when nvidia-smi exists but fails
OPS_MODE="$("$PY" "$ENVCHECK" mode)"

stamp_src="$(printf '%s\n' "${TORCH_PKGS[@]}" "${BUILD_PKGS[@]}" "${MM_PKGS[@]}" "$MMCV_PKG" \
             "${TOOLBOX_PKGS[@]}" "OPS_MODE=$OPS_MODE" "TORCH_INDEX_URL=${TORCH_INDEX_URL:-}" \
             "TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-}" "CUDA_FROM=${CUDA_FROM:-}" \
             "REPL_MM_NVCC_WHEELS=${REPL_MM_NVCC_WHEELS:-1}"; cat "$root/setup.py" "$root"/requirements/*.txt)"
stamp="$(printf '%s' "$stamp_src" | sha256sum | cut -c1-16)"
if [[ -f "$VENV/.repl_mm_stamp" && "$(cat "$VENV/.repl_mm_stamp")" == "$stamp" ]] \
   && [[ "${REBUILD:-}" != 1 ]] \
   && "$VENV/bin/python" -c "import repl_mm, mmcv.ops, mmdet, mmseg, mmpretrain" 2>/dev/null \
   && { [[ "$OPS_MODE" == cpu ]] || ! "$VENV/bin/python" "$ENVCHECK" mmcv-rebuild cuda >/dev/null; }
then
  echo "install: .venv is up to date ($stamp)"
  exit 0
fi

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
"${PIP[@]}" -q --upgrade pip
"${PIP[@]}" -q "${BUILD_PKGS[@]}"
if [[ -z "${TORCH_INDEX_URL:-}" ]]; then
  "${PIP[@]}" -q "${TORCH_PKGS[@]}"
elif "$VENV/bin/python" "$ENVCHECK" torch-reinstall "$TORCH_INDEX_URL"; then
  echo "install: torch and torchvision from $TORCH_INDEX_URL"
  "${PIP[@]}" -q --force-reinstall --index-url "$TORCH_INDEX_URL" "${TORCH_PKGS[@]}"
fi
# The CUDA compiler wheels of torch's CUDA release (cuda-toolkit[nvcc,cccl] at torch's own
# cuda-toolkit version: 98 MiB to download, ~210 MB unpacked): tests/utils/test_cuda_toolchain.py compiles
# a tiny CUDA extension with them in CI, so the GPU build path cannot rot without a GPU.
# REPL_MM_NVCC_WHEELS=0 skips them (the test then skips, saying why).
if [[ "${REPL_MM_NVCC_WHEELS:-1}" == 1 ]]; then
  mapfile -t NVCC_SPECS < <("$VENV/bin/python" "$root/repl_mm/utils/cuda_toolchain.py" specs 2>/dev/null || true)
  [[ ${#NVCC_SPECS[@]} -eq 0 ]] || "${PIP[@]}" -q "${NVCC_SPECS[@]}"
fi
"${PIP[@]}" -q "${MM_PKGS[@]}"
if [[ "$OPS_MODE" == cpu ]]; then
  if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
    echo "install: building $MMCV_PKG from source (several minutes on 2 cores)"
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" MMCV_WITH_OPS=1 "${PIP[@]}" -q --no-build-isolation "$MMCV_PKG"
  fi
else
  # `plan --no-build` stops with the problem and the ways out (torch sees no GPU although
  # nvidia-smi lists one); the compiler is chosen by repl_mm/utils/cuda_toolchain.py:
  # CUDA_FROM=system (nvcc on $CUDA_HOME/PATH, its CUDA major must be torch's) or pip (the
  # nvcc wheels of torch's CUDA release, assembled into $VENV/cuda_home), unset: system when
  # it matches, else pip. The built wheel is kept in .whl/mmcv-cuda/<torch-cuda-nvcc-archs>/
  # and reused by the next install; TORCH_CUDA_ARCH_LIST default: the visible GPUs', else 8.0;9.0.
  "$VENV/bin/python" "$ENVCHECK" plan --no-build >/dev/null
  # REBUILD=1: build although the installed mmcv has fitting CUDA ops (another route or
  # arch list, docs/gpu.md); the toolchain then also ignores a kept wheel of the same key
  if reason="$("$VENV/bin/python" "$ENVCHECK" mmcv-rebuild cuda)" \
     || { [[ "${REBUILD:-}" == 1 ]] && reason="REBUILD=1"; }; then
    ARCH_LIST="$("$VENV/bin/python" "$ENVCHECK" plan --no-build)"
    [[ -z "$ARCH_LIST" || -n "${TORCH_CUDA_ARCH_LIST:-}" ]] || export TORCH_CUDA_ARCH_LIST="$ARCH_LIST"
    echo "install: building $MMCV_PKG with CUDA ops ($reason)"
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$VENV/bin/python" "$root/repl_mm/utils/cuda_toolchain.py" build
  fi
fi
"${PIP[@]}" -q "${TOOLBOX_PKGS[@]}" "${TORCH_PKGS[@]}" "${MM_PKGS[@]}" "$MMCV_PKG"
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$root"
"$VENV/bin/python" -c "import torch, torchvision, mmcv.ops, mmdet, mmseg, mmpretrain, repl_mm; print('install: torch', torch.__version__, 'torchvision', torchvision.__version__, 'mmcv', mmcv.__version__)"
[[ "$OPS_MODE" == cpu ]] || "$VENV/bin/python" "$ENVCHECK" verify cuda
echo "$stamp" > "$VENV/.repl_mm_stamp"
