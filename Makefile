# envdoctor's developer commands. `make test` is what CI runs (see .ci/run and the README).
PYTHON ?= python3
PYTEST ?= $(PYTHON) -m pytest

.PHONY: install test test-slow lint bench demo stubs lockfiles clean-envs

install:
	$(PYTHON) -m pip install -e '.[test]'

test:
	$(PYTEST) -q

# Tests marked slow: large environments, long inference runs.
test-slow:
	$(PYTEST) -q -m slow

lint:
	$(PYTHON) -m ruff check envdoctor probes tests bench

bench:
	$(PYTHON) -m bench

# Build a MuseTalk environment for this machine with the best strategy, and verify it.
# On the build machines, torch must come from local disk:
#   make demo DEMO_FLAGS="--torch-index file:///opt/pypi-more/simple --torch-index file:///opt/pypi/simple"
DEMO_VENV ?= .venv-musetalk
DEMO_FLAGS ?=
demo:
	$(PYTHON) -m envdoctor fix --venv $(DEMO_VENV) --create --yes $(DEMO_FLAGS)
	$(PYTHON) -m envdoctor check --venv $(DEMO_VENV)

# Regenerate the kept _ext stubs under stubs/ (after an envdoctor version bump the drift test asks for it).
stubs:
	$(PYTHON) -m envdoctor stub generate --kept

# Regenerate every lockfile of the matrix in envdoctor/data/lock.toml (PyPI needed), then the README's table.
lockfiles:
	$(PYTHON) -m envdoctor lock --jobs 6
	$(PYTHON) -m envdoctor lock --table README.md

clean-envs:
	rm -rf .cache/test-envs
