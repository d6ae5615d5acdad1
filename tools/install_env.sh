#!/usr/bin/env bash
# Creates .venv in the repository root with the pinned OpenMMLab stack and installs
# repl_mm in editable mode. Idempotent: a second run with nothing changed returns at once.
#
# What this encodes (see DEVELOPERS.md / README "Set-up"):
# * torch and torchvision come from the package registry (pip --isolated), never from
#   the CPU-only torch file some machines keep as a local find-link: torchvision's
#   compiled ops only load with the registry build.
# * mmcv 2.1.0 (mmdet 3.3.0 and mmseg 1.2.2 refuse >= 2.2) is built from source with
#   --no-build-isolation after setuptools<81 (its setup.py imports pkg_resources) and
#   torch are in place. CPU ops unless FORCE_CUDA=1 is exported.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
VENV="$root/.venv"
PIP=("$VENV/bin/python" -m pip install --isolated --disable-pip-version-check --progress-bar off)

TORCH_PKGS=(torch==2.13.0 torchvision==0.28.0)
BUILD_PKGS=("setuptools>=77,<81" wheel ninja)
MM_PKGS=(mmengine==0.10.7)
MMCV_PKG=mmcv==2.1.0
# onnx / onnxruntime: ONNX export of deploy models, checked in onnxruntime
# (tools/deployment/pytorch2onnx.py); both resolve with numpy<2 on Python 3.11.
TOOLBOX_PKGS=(mmdet==3.3.0 mmsegmentation==1.2.2 mmpretrain==1.2.0 pycocotools ftfy regex
              "numpy<2" "opencv-python-headless<4.12" matplotlib pytest pytest-timeout
              onnx==1.23.2 onnxruntime==1.31.1)

stamp_src="$(printf '%s\n' "${TORCH_PKGS[@]}" "${BUILD_PKGS[@]}" "${MM_PKGS[@]}" "$MMCV_PKG" \
             "${TOOLBOX_PKGS[@]}" "FORCE_CUDA=${FORCE_CUDA:-0}"; cat "$root/setup.py")"
stamp="$(printf '%s' "$stamp_src" | sha256sum | cut -c1-16)"
if [[ -f "$VENV/.repl_mm_stamp" && "$(cat "$VENV/.repl_mm_stamp")" == "$stamp" ]] \
   && "$VENV/bin/python" -c "import repl_mm, mmcv.ops, mmdet, mmseg, mmpretrain" 2>/dev/null; then
  echo "install: .venv is up to date ($stamp)"
  exit 0
fi

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
"${PIP[@]}" -q --upgrade pip
"${PIP[@]}" -q "${BUILD_PKGS[@]}"
"${PIP[@]}" -q "${TORCH_PKGS[@]}"
"${PIP[@]}" -q "${MM_PKGS[@]}"
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  echo "install: building $MMCV_PKG from source (several minutes on 2 cores)"
  MAX_JOBS="${MAX_JOBS:-$(nproc)}" MMCV_WITH_OPS=1 "${PIP[@]}" -q --no-build-isolation "$MMCV_PKG"
fi
"${PIP[@]}" -q "${TOOLBOX_PKGS[@]}" "${TORCH_PKGS[@]}" "${MM_PKGS[@]}" "$MMCV_PKG"
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$root"
"$VENV/bin/python" -c "import torch, torchvision, mmcv.ops, mmdet, mmseg, mmpretrain, repl_mm; print('install: torch', torch.__version__, 'torchvision', torchvision.__version__, 'mmcv', mmcv.__version__)"
echo "$stamp" > "$VENV/.repl_mm_stamp"
