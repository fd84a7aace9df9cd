# decayguard: two commands do all the set-up on a fresh machine:
#   make demo   creates both environments, then runs the closed-loop demo
#   make test   creates both environments, then runs lint, types and the whole test suite
# Why two Python environments: MLServer 1.7.1 pins fastapi<0.116, Prefect 3.9 needs
# fastapi>=0.139 (see docs/architecture.md).

PYTHON ?= python3.11
CONTROL := .venv
SERVE := .venv-serve
PY := $(CONTROL)/bin/python
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export MLFLOW_DISABLE_TELEMETRY := true
export FEAST_USAGE := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install system-deps test lint typecheck pytest demo bench clean

install: $(CONTROL)/.installed $(SERVE)/.installed system-deps

# Installs again only when pyproject.toml changed: a no-op run takes well under a second.
$(CONTROL)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(CONTROL)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[control,dev]'
	touch $@

$(SERVE)/.installed: pyproject.toml
	test -x $(SERVE)/bin/python || $(PYTHON) -m venv $(SERVE)
	$(SERVE)/bin/python -m pip install -q --upgrade pip
	$(SERVE)/bin/python -m pip install -q -e '.[serving]'
	touch $@

# Debian's Chromium (browser tests with Playwright, never `playwright install`) and wrk
# (load generator for bench/serving.py). Installed only when missing.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium wrk >/dev/null; \
	  else echo "note: install chromium and wrk (apt-get install chromium wrk) for the browser tests and benchmarks"; fi; \
	fi

lint: install
	$(CONTROL)/bin/ruff check src tests bench
	$(CONTROL)/bin/ruff format --check src tests bench

typecheck: install
	$(CONTROL)/bin/mypy

pytest: install
	$(CONTROL)/bin/pytest

test: lint typecheck pytest

demo: install
	$(CONTROL)/bin/decayguard demo

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(CONTROL) $(SERVE) .pytest_cache .mypy_cache .ruff_cache
