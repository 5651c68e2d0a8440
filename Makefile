# City Commitments: fetch -> build -> validate -> publish, with real file dependencies,
# so a second `make publish` with nothing changed does no work.
# Usage: make publish [RAW_MIRROR=../shared/raw-mirror]   |   make test   |   make help

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VERSION := $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' datapackage.json | head -n1)
RAW_MIRROR ?=
# Version pins of the tested dependency set (constraints/pandas3.txt: the pandas 3 line).
CONSTRAINTS ?= constraints/default.txt
export RAW_MIRROR

ETL_FILES := $(shell find etl -type f \( -name '*.py' -o -name '*.csv' -o -name '*.json' \) -not -path '*/__pycache__/*')
MIRROR_FILES := $(if $(RAW_MIRROR),$(filter-out %/FILES.tsv %/SOURCES.md,$(wildcard $(RAW_MIRROR)/*)))
VALIDATION_FILES := $(wildcard validations/*)
# Stamp of the last successful publish of this version (a no-op publish leaves the release untouched).
RELEASE := build/.published-$(VERSION)

.PHONY: help venv fetch build validate publish test bench serve clean FORCE
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo "  Variables: RAW_MIRROR=<dir> takes sources from a local folder (still sha256-verified)."

venv: $(VENV)/.installed ## Create .venv and install the project (done automatically)
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[test,serve]'
	@touch $@

fetch: raw/.fetched ## Fetch every source into raw/ and verify its sha256
raw/.fetched: $(VENV)/.installed datapackage.json $(MIRROR_FILES)
	$(PY) -m etl fetch
	@touch $@

build: build/.built ## Read sources, resolve places, build every resource into build/
build/.built: raw/.fetched $(ETL_FILES) datapackage.json
	$(PY) -m etl build
	@touch $@

validate: build/.validated ## Run the data-quality gate (Frictionless schema + Great Expectations)
build/.validated: build/.built $(VALIDATION_FILES)
	$(PY) -m etl validate
	@touch $@

publish: $(RELEASE) ## Publish published/<version>/ (refuses to rewrite an existing version)
$(RELEASE): build/.validated $(if $(wildcard published/$(VERSION)/SHA256SUMS),,FORCE)
	$(PY) -m etl publish
	@touch $@

test: $(VENV)/.installed ## Run the test suite (integration tests need RAW_MIRROR)
	$(PY) -m pytest

bench: $(VENV)/.installed ## Benchmark: cold and no-op publish, stages, gate vs frictionless, scale 1x/10x/100x
	$(PY) -m etl.bench

serve: $(VENV)/.installed ## Browse the latest release in datasette on 127.0.0.1
	$(PY) -m etl serve

clean: ## Remove build/ (keeps raw/ downloads and published/ releases)
	rm -rf build

FORCE:
