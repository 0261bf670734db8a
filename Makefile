# envdoctor's developer commands. On a machine with only python3 (>= 3.10), make and git, `make demo` and
# `make test` first build envdoctor's own tool environment ($(TOOL_ENV): a venv with uv from PyPI, then
# envdoctor and its extras installed by uv), rebuild it only when pyproject.toml changes, and run from it.
# `make test` is what CI runs (see .ci/run and the README).
PYTHON ?= python3
# envdoctor's own environment; not `.venv`, which envdoctor takes as the target when given none.
TOOL_ENV ?= .venv-tool
TOOL_PY := $(TOOL_ENV)/bin/python
STAMP := $(TOOL_ENV)/.envdoctor-stamp
PYTEST ?= $(TOOL_PY) -m pytest
# Test processes at once (pytest-xdist): most of the suite waits on uv, PyPI and child processes rather
# than on a core, so three keep two cores busy. TEST_JOBS=0 runs in this process alone.
TEST_JOBS ?= 3

.PHONY: install test test-fast test-slow lint bench demo stubs lockfiles lock-drift clean-envs clean-tool-env

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "envdoctor needs Python >= 3.10 for itself: run make PYTHON=/path/to/python3.1x"; exit 2; }
	@echo "building envdoctor's tool environment in $(TOOL_ENV) (uv from PyPI, then envdoctor[test])"
	rm -rf $(TOOL_ENV)
	@# A python without ensurepip (Debian's without python3-venv) still has its own pip, often: use that.
	$(PYTHON) -m venv $(TOOL_ENV) && $(TOOL_PY) -m pip install --quiet --disable-pip-version-check uv || \
	  { rm -rf $(TOOL_ENV) && $(PYTHON) -m venv --without-pip $(TOOL_ENV) && \
	    $(PYTHON) -m pip --python $(TOOL_PY) install --quiet --disable-pip-version-check uv; } || \
	  { echo "$(PYTHON) can make no venv with pip: install python3-venv, or run make PYTHON=another"; exit 2; }
	$(TOOL_PY) -m uv pip install --quiet --python $(TOOL_PY) -e '.[test]'
	@touch $(STAMP)

test: $(STAMP)
	$(PYTEST) -q -n $(TEST_JOBS)

# The fast layer, for a developer's loop (under a minute): the domain logic on recorded probe documents,
# stand-in files and envdoctor's own data; no venv is built and nothing is downloaded.
test-fast: $(STAMP)
	$(PYTEST) -q -n $(TEST_JOBS) -m 'not slow and not drift and not network and not envs'

# Tests marked slow: large environments, long inference runs (the drift reports stay with `make lock-drift`).
test-slow: $(STAMP)
	$(PYTEST) -q -m 'slow and not drift'

# ruff's rules and mypy's strictness live in pyproject.toml (probes/ruff.toml lints what runs inside a
# target as Python 3.8); mypy checks envdoctor/ (strict on the core) and tests/; import-linter holds the layers of
# docs/architecture.md (its contract is in pyproject.toml) and forbids cycles between modules. actionlint checks the
# workflows; its shellcheck and pyflakes passes are off so that the result does not depend on what else
# the machine has on PATH.
lint: $(STAMP)
	$(TOOL_PY) -m ruff check envdoctor probes tests bench
	$(TOOL_PY) -m ruff format --check envdoctor probes tests bench
	$(TOOL_PY) -m mypy
	$(TOOL_ENV)/bin/lint-imports --no-cache
	@# Its wheels have no Intel macOS build: there it is said and skipped, never silently.
	@if [ -x $(TOOL_ENV)/bin/actionlint ]; then $(TOOL_ENV)/bin/actionlint -shellcheck= -pyflakes= .github/workflows/*.yml; \
	  else echo "actionlint: no wheel for this platform, the workflow was not linted"; fi

bench: $(STAMP)
	$(TOOL_PY) -m bench

# Build a MuseTalk environment for this machine with the best strategy, and verify it. torch comes from
# the indexes pip's configuration names, if any (how a machine announces a mirror or local wheels; uv,
# which installs, does not read pip's configuration), else from the PyTorch index for this machine.
# DEMO_FLAGS replaces that: make demo DEMO_FLAGS="--torch-index URL".
DEMO_VENV ?= .venv-musetalk
DEMO_FLAGS ?= $(shell $(TOOL_PY) -m envdoctor.pipconfig --torch-index-args 2>/dev/null)
demo: $(STAMP)
	$(TOOL_PY) -m envdoctor fix --venv $(DEMO_VENV) --create --yes $(DEMO_FLAGS)
	$(TOOL_PY) -m envdoctor check --venv $(DEMO_VENV)

# Regenerate the kept _ext stubs under stubs/ (after an envdoctor version bump the drift test asks for it).
stubs: $(STAMP)
	$(TOOL_PY) -m envdoctor.maint stubs

# Regenerate every lockfile of the matrix in envdoctor/data/lock.toml (PyPI needed), then the README's table.
lockfiles: $(STAMP)
	$(TOOL_PY) -m envdoctor.maint lock --jobs 6
	$(TOOL_PY) -m envdoctor.maint lock --table README.md

# The committed pins against today's registry (network needed): a report, never a gate. Each cell is
# resolved again into a temporary folder; exit 1 names the pins that moved (docs/fix.md: refreshing).
lock-drift: $(STAMP)
	$(TOOL_PY) -m envdoctor.maint lock --drift --jobs 4

clean-envs:
	rm -rf .cache/test-envs

clean-tool-env:
	rm -rf $(TOOL_ENV)
