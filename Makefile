# Everyday commands. `make help` lists them.
PYTHON ?= python

.PHONY: help setup lint format typecheck test test-all repro params check docs

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup:  ## install the package, dev tools and the default dataset; install the git hooks
	bash scripts/setup.sh
	pre-commit install

lint:  ## ruff (lint + format check)
	ruff check .
	ruff format --check .

format:  ## ruff: fix what it can, format everything
	ruff check --fix .
	ruff format .

typecheck:  ## mypy on pipeline/
	mypy

test:  ## the inner loop: fast tests only (tests/unit, under 2 minutes)
	$(PYTHON) -m pytest -m "not slow"

test-all:  ## everything, as CI runs it (README's test command)
	$(PYTHON) -m pytest

check: lint typecheck test  ## what to run before a commit

repro:  ## the whole pipeline (prepare, train, classifier, evaluate, register)
	dvc repro

params:  ## regenerate params.yaml from conf/ (dvc repro reads the committed file)
	$(PYTHON) -m pipeline.params

docs:  ## the documentation site at http://127.0.0.1:8000 (mkdocs serve; `mkdocs build --strict` builds site/)
	NO_MKDOCS_2_WARNING=1 mkdocs serve
