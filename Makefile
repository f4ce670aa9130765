# lendgraph: `make dev` brings the system up, `make test` runs every check and test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install dev test lint pytest schema clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

dev: install
	$(BIN)/lendgraph dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest -q -n 2

test: lint pytest

schema: install
	$(BIN)/lendgraph export-schema > schema.graphql

clean:
	rm -rf $(VENV) .lendgraph .pytest_cache .mypy_cache .ruff_cache
