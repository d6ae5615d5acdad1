#!/usr/bin/env bash
# The first run on a GPU machine (docs/gpu.md): check_env; mmcv CUDA ops built or reused and
# verified (nms GPU vs CPU); tools/dist_train.sh over NCCL on every visible GPU; the paper's
# memory/time rows E2E vs RepL -> docs/benchmarks_cuda.md. Steps: repl_mm/cli/gpu_check.py.
#   tools/gpu_check.sh --dry-run                 # list the steps, run nothing (exit 0)
#   tools/gpu_check.sh                           # with the python that has torch ($PYTHON)
#   tools/gpu_check.sh --offline .whl/gpu-kit    # no registry: install from `make gpu-kit`
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then PY="$root/.venv/bin/python"; else PY=python3; fi
fi
exec "$PY" "$root/repl_mm/cli/gpu_check.py" --python "$PY" "$@"
