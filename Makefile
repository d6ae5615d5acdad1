# Set-up is part of every target: `make demo` and `make test` work on a fresh machine.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install test demo

install:
	bash tools/install_env.sh

test: install
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)
