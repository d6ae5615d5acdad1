# Set-up is part of every target: `make demo` and `make test` work on a fresh machine.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install test test-matrix demo lint

install:
	bash tools/install_env.sh

test: install
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

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
