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
	@echo "make hygiene - ansible-test sanity and units, ansible-lint, docs and changelog lint, ruff, molecule, ansible-runner"

.venv-%/.installed: requirements.txt requirements-test.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ansible-core $* needs Python 3.11 or newer here; run make with PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install -q --disable-pip-version-check -U pip
	.venv-$*/bin/pip install -q --disable-pip-version-check "ansible-core==$*" -r requirements.txt -r requirements-test.txt
	touch $@

venv: $(VENV_NEW)/.installed

test: test-new test-old hygiene

test-new: $(VENV_NEW)/.installed
	$(VENV_NEW)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) --ignore=$(RUNNER_TEST) tests

test-old: $(VENV_OLD)/.installed
	$(VENV_OLD)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) --ignore=$(RUNNER_TEST) tests

demo: $(VENV_NEW)/.installed
	PYTHON=$(VENV_NEW)/bin/python bash examples/demo.sh

# Builds its repository and servers on 127.0.0.1, prints the targets table, writes docs/performance.md.
bench: $(VENV_NEW)/.installed
	$(VENV_NEW)/bin/python benchmarks/bench.py

clean:
	rm -rf .venv-* build dist tests/output

# --- Collection hygiene: what the Ansible ecosystem checks, in its own venv (requirements-hygiene.txt) ---
# Every tool runs with HOME in build/hygiene/home, so ansible-test's venvs, molecule's collection install
# and galaxy caches stay there (and warm between runs), never in the user's ~/.ansible.
VENV_HYG := .venv-hygiene
HYG_BIN := $(CURDIR)/$(VENV_HYG)/bin
HYG_DIR := $(CURDIR)/build/hygiene
HYG_COLL := $(HYG_DIR)/ansible_collections/vcs/inventory
HYG_ENV := env PATH="$(HYG_BIN):$$PATH" HOME="$(HYG_DIR)/home" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
# ansible-runner is installed in the hygiene venv only, so this test runs from there.
RUNNER_TEST := tests/integration/test_ansible_runner.py

.PHONY: hygiene hygiene-static hygiene-galaxy hygiene-collection hygiene-molecule hygiene-runner

$(VENV_HYG)/.installed: requirements-hygiene.txt
	$(PYTHON) -m venv $(VENV_HYG)
	$(VENV_HYG)/bin/pip install -q --disable-pip-version-check -U pip
	$(VENV_HYG)/bin/pip install -q --disable-pip-version-check -r requirements-hygiene.txt
	touch $@

# One after the other even under make -j: ansible-test and molecule share the hygiene HOME.
hygiene: $(VENV_HYG)/.installed
	$(MAKE) --no-print-directory hygiene-static
	$(MAKE) --no-print-directory hygiene-galaxy
	$(MAKE) --no-print-directory hygiene-collection
	$(MAKE) --no-print-directory hygiene-molecule
	$(MAKE) --no-print-directory hygiene-runner

hygiene-static: $(VENV_HYG)/.installed
	$(HYG_ENV) ruff check .
	$(HYG_ENV) ansible-lint
	$(HYG_ENV) antsibull-docs lint-collection-docs --plugin-docs .
	$(HYG_ENV) antsibull-changelog lint

# The tarball holds the collection and nothing of the development tree, and it installs the three ways
# users install it: from the file, from a URL (a local HTTP server) and from a Git repository.
HYG_GALAXY := $(HYG_DIR)/galaxy
hygiene-galaxy: $(VENV_HYG)/.installed
	rm -rf "$(HYG_GALAXY)" && mkdir -p "$(HYG_GALAXY)"
	$(HYG_ENV) ansible-galaxy collection build . --output-path "$(HYG_GALAXY)/dist" >/dev/null
	tar tzf "$(HYG_GALAXY)"/dist/vcs-inventory-*.tar.gz | sort > "$(HYG_GALAXY)/files.txt"
	grep -qx 'plugins/inventory/git.py' "$(HYG_GALAXY)/files.txt" && grep -qx 'meta/execution-environment.yml' "$(HYG_GALAXY)/files.txt"
	@if grep -E '^(\.|build/|dist/|benchmarks/|extensions/|collections/|tests/output/|changelogs/\.)|/(__pycache__|\.pytest_cache|\.ansible)/|\.(pyc|tar\.gz)$$' "$(HYG_GALAXY)/files.txt"; then \
	  echo "the tarball holds the files above, which build_ignore in galaxy.yml should keep out"; exit 1; fi
	$(HYG_ENV) ansible-galaxy collection install --force "$(HYG_GALAXY)"/dist/vcs-inventory-*.tar.gz -p "$(HYG_GALAXY)/from-file" 2>/dev/null
	port=$$($(HYG_BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
	  && { $(HYG_BIN)/python -m http.server "$$port" --bind 127.0.0.1 --directory "$(HYG_GALAXY)/dist" >/dev/null 2>&1 & pid=$$!; } \
	  && trap 'kill $$pid' EXIT \
	  && for i in $$(seq 100); do $(HYG_BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', $$port), 1)" 2>/dev/null && break; sleep 0.1; done \
	  && $(HYG_ENV) ansible-galaxy collection install --force "http://127.0.0.1:$$port/$$(cd "$(HYG_GALAXY)/dist" && ls vcs-inventory-*.tar.gz)" \
	    -p "$(HYG_GALAXY)/from-url" 2>/dev/null
	mkdir "$(HYG_GALAXY)/repo" \
	  && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$(HYG_GALAXY)/repo" \
	  && cd "$(HYG_GALAXY)/repo" && git init -q && git add -A \
	  && git -c user.name=hygiene -c user.email=hygiene@example.invalid commit -qm "the work tree" \
	  && $(HYG_ENV) ansible-galaxy collection install --force "git+file://$(HYG_GALAXY)/repo/.git" -p "$(HYG_GALAXY)/from-git" 2>/dev/null
	for way in from-file from-url from-git; do \
	  ANSIBLE_COLLECTIONS_PATH="$(HYG_GALAXY)/$$way" $(HYG_ENV) ansible-doc -t inventory vcs.inventory.git \
	    | grep -qF "$(HYG_GALAXY)/$$way/ansible_collections/vcs/inventory/plugins/inventory/git.py" \
	    || { echo "vcs.inventory installed $$way does not load"; exit 1; }; done

# ansible-test needs the tree at .../ansible_collections/vcs/inventory in a Git work tree (a symlink fails),
# so it runs on a copy of the files Git would commit. It downloads get-pip.py to bootstrap its venvs, unless
# the script is already in its cache: .ci/get-pip-offline.py stands in for it (pip from the package index).
hygiene-collection: $(VENV_HYG)/.installed
	rm -rf "$(HYG_DIR)/ansible_collections"
	mkdir -p "$(HYG_COLL)" "$(HYG_DIR)/home/.ansible/test/cache"
	pipv=$$($(HYG_BIN)/python -c 'import pathlib, re, ansible_test; print(re.search(r"pip=.([0-9.]+).", (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()).group(1))') \
	  && cp .ci/get-pip-offline.py "$(HYG_DIR)/home/.ansible/test/cache/get_pip_$${pipv//./_}.py"
	git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$(HYG_COLL)"
	cd "$(HYG_COLL)" && git init -q && git add -A
	pyv=$$($(HYG_BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') && cd "$(HYG_COLL)" \
	  && $(HYG_ENV) ansible-test sanity --venv --python $$pyv --color no \
	  && $(HYG_ENV) ansible-test units --venv --python $$pyv --color no
	$(HYG_ENV) ansible-builder introspect "$(HYG_DIR)" \
	  --write-pip "$(HYG_DIR)/ee-requirements.txt" --write-bindep "$(HYG_DIR)/ee-bindep.txt"
	grep -q '^dulwich.*# from collection vcs.inventory' "$(HYG_DIR)/ee-requirements.txt"
	grep -q '^openssh-client .*# from collection vcs.inventory' "$(HYG_DIR)/ee-bindep.txt"
	rm -rf "$(HYG_DIR)/ee-context"
	$(HYG_ENV) ansible-builder create -f docs/execution-environment.yml -c "$(HYG_DIR)/ee-context" >/dev/null

hygiene-molecule: $(VENV_HYG)/.installed
	$(HYG_ENV) molecule test

hygiene-runner: $(VENV_HYG)/.installed
	$(HYG_ENV) $(HYG_BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(RUNNER_TEST)
