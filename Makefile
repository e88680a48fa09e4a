# spinemets: the two commands a fresh machine needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PIP_FLAGS ?= -q --disable-pip-version-check

.PHONY: run test lint typecheck pytest bench eval sysdeps venv clean fmt

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the test suite and benchmarks need: a real PostgreSQL server, a real Chromium, wrk.
sysdeps:
	@bash scripts/install-sysdeps.sh

run: $(STAMP)
	$(BIN)/spinemets run

test: $(STAMP) sysdeps lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP) sysdeps
	$(BIN)/python -m benchmarks

eval: $(STAMP)
	$(BIN)/python -m spinemets.evidence.evaluate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
