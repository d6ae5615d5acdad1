# Set-up is part of every target: `make demo` and `make test` work on a fresh machine.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install test test-fast test-matrix demo lint cuda-build cuda-smoke gpu-kit

install:
	bash tools/install_env.sh

test: install
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

# without the tests marked slow or e2e (pyproject.toml registers the markers)
test-fast: install
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=25 -m "not slow and not e2e" $(PYTEST_ARGS)

# The support matrix (docs/compatibility.md): mmengine 0.10.4/0.10.5/0.10.6 over .venv and the
# OneDL stack (numpy 2, .venv-onedl), each running tests/matrix_subset.txt; .ci/run runs it after
# `make test` (the pinned cell). MATRIX_CELLS="onedl" runs one cell.
test-matrix: install
	bash tools/test_matrix.sh

# ruff (rules in pyproject.toml); .ci/run runs it before the tests
lint: install
	.venv/bin/ruff check .

# Detection end to end on CPU (docs/detection.md): synthetic COCO-format set, RetinaNet-RepL and
# its E2E twin trained with tools/dist_train.sh (2 processes), COCO mAP, table + PNG.
demo: install
	$(PY) tools/misc/demo_detection.py

# mmcv 2.1.0 with CUDA ops, also on a machine without a GPU (docs/gpu.md): CUDA_FROM=system
# (the nvcc on $CUDA_HOME/PATH; its CUDA major must be torch's) or pip (the nvcc wheels of
# torch's CUDA release); TORCH_CUDA_ARCH_LIST (default: the visible GPUs', else 8.0;9.0);
# MAX_JOBS; VENV=/path for another environment. Verified without a GPU (mmcv.ops, the CUDA
# version, cuobjdump cubins per arch), with one also nms GPU vs CPU; the wheel is kept in
# .whl/mmcv-cuda/ and reused.
cuda-build:
	FORCE_CUDA=1 bash tools/install_env.sh

# The toolchain check CI runs inside `make test` (tests/utils/test_cuda_toolchain.py), alone:
# a tiny CUDAExtension compiled with the pip nvcc wheels, its cubins listed.
cuda-smoke: install
	CUDA_FROM=pip $(PY) repl_mm/utils/cuda_toolchain.py smoke

# Offline kit for a GPU machine with torch (CUDA 13), Python 3.12, numpy 2 and nvcc but no
# registry: the wheels it lacks and the mmcv source, at most 64 MiB, in .whl/gpu-kit
# (`tools/gpu_check.sh --offline .whl/gpu-kit` installs from it).
gpu-kit: install
	$(PY) repl_mm/cli/gpu_kit.py .whl/gpu-kit
