# vcs.inventory: `make demo` shows it working, `make test` runs the whole suite, `make bench` measures.
SHELL := /bin/bash
PYTHON ?= python3
# The core `make demo` and `make bench` use: the newest that installs on Python 3.11.
CORE_NEW ?= 2.19.14
VENV_NEW := .venv-$(CORE_NEW)
PYTEST_ARGS ?=

# --- The matrix: every supported ansible-core, one leg (make test-<core>) each ---
# The whole suite on the oldest (RHEL, AAP), the newest on Python 3.11 and the newest of all...
CORES_FULL ?= 2.16.19 2.19.14 2.21.5
# ...and the core, versions, layouts and Ansible-depth integration tests plus the unit tests on the rest.
CORES_CORE ?= 2.17.14 2.18.19 2.20.10
TESTS_CORE := tests/unit tests/integration/test_core.py tests/integration/test_versions.py \
  tests/integration/test_layouts.py tests/integration/test_ansible_depth.py
# ansible-core 2.20 and later need Python >= 3.12: this machine's own when it has one (PYTHON312=...
# to choose), otherwise a Debian 13 chroot under build/ (.ci/debian-chroot.sh; root only), built once.
CORES_PY312 := $(filter-out 2.16.% 2.17.% 2.18.% 2.19.%,$(CORES_FULL) $(CORES_CORE))
ifeq ($(origin PYTHON312),undefined)
PYTHON312 := $(firstword $(foreach py,python3.14 python3.13 python3.12 python3,$(shell \
  $(py) -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && echo $(py))))
endif
ifeq ($(PYTHON312),)
RUN_PY312 := bash $(CURDIR)/.ci/debian-chroot.sh run
VENV_PY312_DIR := build/debian-trixie/venv-
PYTHON312_CMD := python3
else
RUN_PY312 :=
VENV_PY312_DIR := .venv-
PYTHON312_CMD := $(PYTHON312)
endif
# ansible-runner is installed in the hygiene venv only, so its test runs from there (make hygiene-runner).
RUNNER_TEST := tests/integration/test_ansible_runner.py
PIP_INSTALL := pip install -q --disable-pip-version-check

.PHONY: help venv test test-matrix chroot demo bench clean

help:
	@echo "make demo   - build, install and use the collection against a local Git repository"
	@echo "make test   - the matrix (whole suite on $(CORES_FULL); core tests on $(CORES_CORE)) and hygiene"
	@echo "make test-<core> - one leg of the matrix, e.g. make test-$(CORE_NEW)"
	@echo "make bench  - the performance benchmark (writes docs/performance.md)"
	@echo "make hygiene - ansible-test sanity and units, ansible-lint, docs and changelog lint, ruff, molecule, ansible-runner"
	@echo "Python >= 3.12 for $(CORES_PY312): $(or $(PYTHON312),a Debian 13 chroot in build/debian-trixie)"

# $(call leg,CORE,VENV,RUN,PYTHON,TESTS): the venv of one core and the target that runs its tests.
define leg
$(2)/.installed: requirements.txt requirements-test.txt
	@$(3) $(4) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ansible-core $(1) needs Python 3.11 or newer here; run make with PYTHON=python3.11 (or newer)")'
	$(3) $(4) -m venv $(2)
	$(3) $(2)/bin/$(PIP_INSTALL) -U pip
	$(3) $(2)/bin/$(PIP_INSTALL) "ansible-core==$(1)" -r requirements.txt -r requirements-test.txt
	touch $$@

.PHONY: test-$(1)
test-$(1): $(2)/.installed
	@echo "== ansible-core $(1): $(if $(filter $(1),$(CORES_FULL)),the whole suite,core tests) on $(if $(3),Debian 13 (chroot),$(4)) =="
	$(3) $(2)/bin/python -m pytest -q -p no:cacheprovider $$(PYTEST_ARGS) $(5)
endef
leg_venv = $(if $(filter $(1),$(CORES_PY312)),$(VENV_PY312_DIR)$(1),.venv-$(1))
leg_tests = $(if $(filter $(1),$(CORES_FULL)),--ignore=$(RUNNER_TEST) tests,$(TESTS_CORE))
$(foreach core,$(sort $(CORES_FULL) $(CORES_CORE) $(CORE_NEW)),$(eval $(call leg,$(core),$(call leg_venv,$(core)),$(if \
  $(filter $(core),$(CORES_PY312)),$(RUN_PY312)),$(if $(filter $(core),$(CORES_PY312)),$(PYTHON312_CMD),$(PYTHON)),$(call leg_tests,$(core)))))

venv: $(VENV_NEW)/.installed

# The legs and hygiene two at a time (TEST_JOBS=1: one after the other), each leg's output in one piece.
# They share no fixed path or port: servers bind free ports on 127.0.0.1, caches and homes are per test.
TEST_JOBS ?= 2
test:
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target test-matrix hygiene

# Newest first: the whole-suite legs are the long ones, so under -j they start first.
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
test-matrix: $(addprefix test-,$(call reverse,$(CORES_FULL)) $(call reverse,$(CORES_CORE)))

chroot:
	bash .ci/debian-chroot.sh build

demo: $(VENV_NEW)/.installed
	PYTHON=$(VENV_NEW)/bin/python bash examples/demo.sh

# Builds its repository and servers on 127.0.0.1, prints the targets table, writes docs/performance.md.
# The job start is measured on BENCH_JOB_CORES first (each in its own leg's venv), then the whole
# benchmark on $(CORE_NEW), whose page shows those job-start tables beside its own.
BENCH_JOB_CORES ?= 2.21.5
bench_json = benchmarks/output/job-$(1).json
bench: $(VENV_NEW)/.installed $(foreach core,$(BENCH_JOB_CORES),$(call leg_venv,$(core))/.installed)
	mkdir -p benchmarks/output
	$(foreach core,$(BENCH_JOB_CORES),$(if $(filter $(core),$(CORES_PY312)),$(RUN_PY312)) $(call leg_venv,$(core))/bin/python \
	  benchmarks/bench.py --job-only --job-json $(call bench_json,$(core)) &&) true
	$(VENV_NEW)/bin/python benchmarks/bench.py --other-cores $(foreach core,$(BENCH_JOB_CORES),$(call bench_json,$(core)))

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
