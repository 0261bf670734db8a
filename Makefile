# envdoctor's developer commands. `make test` is what CI runs (see .ci/run and the README).
PYTHON ?= python3
PYTEST ?= $(PYTHON) -m pytest

.PHONY: install test test-slow lint bench demo stubs clean-envs

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

# Regenerate the kept _ext stubs under stubs/ (after an envdoctor version bump the drift test asks for it).
stubs:
	$(PYTHON) -m envdoctor stub generate --kept

clean-envs:
	rm -rf .cache/test-envs
