# Everything runs from the project's virtualenv, which is (re)installed only when pyproject.toml
# changes (the stamp file below), so `make test` right after `make run` starts at once.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra arguments for pytest, e.g. `make test ARGS="-k embedded -x"`.
ARGS   ?=
MYPY_PATHS ?= openpoint launch rules api workflows activities worker store tests engine channels wire templating jobfiles sending journeys analytics console

.DEFAULT_GOAL := help
.PHONY: help install .venv run test lint bench clean distclean

help:
	@echo "make run        start the platform locally (embedded PostgreSQL + Temporal dev server, data in .data/)"
	@echo "make test       run the test suite (ARGS=... is passed to pytest)"
	@echo "make lint       ruff + mypy + the import contracts (lint-imports)"
	@echo "make bench      run the benchmarks in bench/"
	@echo "make clean      remove caches and build output (keeps .venv and .data)"
	@echo "make distclean  clean, and remove .venv and .data (the local database!)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	@touch $@

.venv install: $(STAMP)

run: $(STAMP)
	$(BIN)/openpoint dev

# The console's browser tests drive Debian's Chromium (tests/console). Installed only when
# missing, so a machine that has it (or CI's second run) does nothing here; needs root or sudo.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	@echo "installing Debian's chromium for the console's browser tests ..."
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
		|| { $(SUDO) apt-get update -qq >/dev/null && \
		     $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_PATHS)
	$(BIN)/lint-imports --no-cache

# Benchmarks print figures; they are not part of `make test`. PYTHONPATH lets them import tests.*.
bench: $(STAMP)
	@set -e; for f in $(sort $(wildcard bench/*.py)); do \
		echo "== $$f"; PYTHONPATH=$(CURDIR) $(BIN)/python $$f; \
	done

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache bench/out
	find . -path ./$(VENV) -prune -o -path ./.data -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .data
