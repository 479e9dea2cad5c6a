# vcs.inventory: `make demo` shows it working, `make test` runs the whole suite, `make bench` measures.
SHELL := /bin/bash
PYTHON ?= python3
# The matrix: the oldest and the newest supported ansible-core (newest patch that installs on Python 3.11).
CORE_NEW ?= 2.19.14
CORE_OLD ?= 2.16.19
VENV_NEW := .venv-$(CORE_NEW)
VENV_OLD := .venv-$(CORE_OLD)
PYTEST_ARGS ?=

.PHONY: help venv test test-new test-old demo bench clean

help:
	@echo "make demo   - build, install and use the collection against a local Git repository"
	@echo "make test   - the whole suite on ansible-core $(CORE_OLD) and $(CORE_NEW)"
	@echo "make bench  - the performance benchmark (writes docs/performance.md)"

.venv-%/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install -q --disable-pip-version-check -U pip
	.venv-$*/bin/pip install -q --disable-pip-version-check "ansible-core==$*" -r requirements.txt -r requirements-test.txt
	touch $@

venv: $(VENV_NEW)/.installed

test: test-new test-old

test-new: $(VENV_NEW)/.installed
	$(VENV_NEW)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

test-old: $(VENV_OLD)/.installed
	$(VENV_OLD)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

demo: $(VENV_NEW)/.installed
	PYTHON=$(VENV_NEW)/bin/python bash examples/demo.sh

clean:
	rm -rf .venv-* build dist tests/output
