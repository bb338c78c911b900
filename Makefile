# ganstream: `make demo` and `make test` do all the set-up they need (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.stamp-setup
TEST_STAMP := $(VENV)/.stamp-test
SRC_DIRS := stream engines training
PYTEST_ARGS ?=

# The training stack (torch, a CPU build) is an extra: `make setup-train`.
.PHONY: setup setup-train setup-test demo test lint typecheck unit bench clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml scripts/setup_system.sh scripts/link_gst_overrides.sh
	scripts/setup_system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	scripts/link_gst_overrides.sh $(VENV)
	touch $@

TRAIN_STAMP := $(VENV)/.stamp-train

setup-train: $(TRAIN_STAMP)

$(TRAIN_STAMP): $(SETUP_STAMP)
	$(BIN)/python -m pip install -q -e '.[train]'
	touch $@

setup-test: $(TEST_STAMP)

$(TEST_STAMP): $(TRAIN_STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,train]'
	touch $@

demo: setup
	$(BIN)/ganstream run --sink out/demo.mp4

lint: setup-test
	$(BIN)/ruff check $(SRC_DIRS) tests
	$(BIN)/ruff format --check $(SRC_DIRS) tests

# mypy cannot follow setuptools' editable import hook; give it the installed layout via links.
typecheck: setup-test
	@mkdir -p .typecheck/ganstream
	@for d in $(SRC_DIRS); do ln -sfn ../../$$d .typecheck/ganstream/$$d; done
	MYPYPATH=.typecheck $(BIN)/mypy -p ganstream.stream -p ganstream.engines -p ganstream.training

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/ganstream bench

clean:
	rm -rf $(VENV) .typecheck .mypy_cache .pytest_cache .ruff_cache out
