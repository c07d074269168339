# The verbs a newcomer types. `make lab` and `make test` do all the set-up themselves.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vibook-installed
# Exact versions of every dependency and extra, for Linux, macOS and Windows (`make lock` writes
# them); Binder's are the runtime and lab ones among them.
LOCK := requirements/lock.txt
BINDER_LOCK := requirements/binder.txt

.PHONY: lab test unit notebooks lint format benchmarks clean help lock test-latest docs student

help:
	@echo "make lab    - set up .venv and open the notebooks in JupyterLab"
	@echo "make test   - set up .venv and run every test (unit tests, all notebooks, the book)"
	@echo "make docs   - build the book (docs/_build/html/index.html): notebooks with outputs, API"
	@echo "make unit   - unit tests only;  make notebooks - notebooks only"
	@echo "make lint   - ruff;  make benchmarks - run every benchmark and print its JSON"
	@echo "make student - the student edition (exercises' solutions removed) in build/student/notebooks"
	@echo "make lock   - re-pin requirements/ after changing dependencies in pyproject.toml"
	@echo "make test-latest - make test on the newest versions pyproject.toml allows (.venv-latest)"

# A venv counts as made once its pip runs on Python 3.12+: one left half-made (an interpreter
# without ensurepip, an interrupted run) is made again from scratch, and a failed attempt is
# removed. The stamp is
# written last, so a failed install is tried again by the next make. With LATEST=1 (make
# test-latest) the packages are the newest that pyproject.toml allows instead of the lock's.
$(STAMP): pyproject.toml $(LOCK)
	@if ! { $(PY) -m pip --version && $(PY) -c '$(NEW_ENOUGH)'; } >/dev/null 2>&1; then \
	  py=$$(scripts/find-python) || exit 1; \
	  [ ! -e $(VENV) ] || echo "$(VENV) is there, but half-made (its pip does not run) or old."; \
	  echo "Creating $(VENV) with $$py"; \
	  rm -rf $(VENV); \
	  if ! "$$py" -m venv $(VENV) || ! $(PY) -m pip --version >/dev/null; then \
	    rm -rf $(VENV); \
	    echo "Could not create $(VENV) with $$py (see above), so it was removed." >&2; \
	    scripts/find-python --install-help >&2; \
	    exit 1; \
	  fi; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
ifeq ($(LATEST),1)
	$(PY) -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[$(ALL_EXTRAS)]"
else
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
endif
	$(PY) -m ipykernel install --sys-prefix --name vibook --display-name "Python (vibook)" >/dev/null
	@touch $(STAMP)

NEW_ENOUGH = import sys; sys.exit(sys.version_info < (3, 12))
ALL_EXTRAS = $$($(PY) -c 'import tomllib; print(",".join(tomllib.load(open("pyproject.toml", \
	"rb"))["project"]["optional-dependencies"]))')

# The same tests on the newest releases pyproject.toml allows, in a venv of their own that each
# run upgrades: an upstream release that breaks vibook shows here before a user meets it.
test-latest:
	rm -f .venv-latest/.vibook-installed
	$(MAKE) test VENV=.venv-latest LATEST=1

# After changing dependencies in pyproject.toml. Every extra is pinned (a new one included), for
# every platform and every Python requires-python allows (--universal); each pin that still fits
# is kept, UPGRADE=1 moves all to the newest. Then Binder's subset at the same versions, then
# environment.yml and binder/environment.yml written from the two.
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --universal --quiet \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

lock: $(STAMP)
	$(UV_COMPILE) --all-extras -o $(LOCK)
	$(UV_COMPILE) --extra lab -c $(LOCK) -o $(BINDER_LOCK)
	$(PY) scripts/sync_environment.py

# JupyterLab refuses to run as root unless told; containers and Binder-like machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT)

# Test files run in parallel, one file to a worker (pytest-xdist's loadfile): a notebook's cells
# run in order in its own kernel, and a module's fixtures are built once. Up to 4 workers: each
# JAX process already uses every core to run what it compiled; compiling is what runs in parallel.
PARALLEL := --numprocesses=auto --maxprocesses=4 --dist=loadfile

# Each notebook runs once: the notebook tests write what they ran to test-artifacts/executed/
# (conftest.py), the book is built from those copies, and its pages are checked in a browser.
BOOK_TEST := tests/browser/test_book.py

test: $(STAMP)
	VIBOOK_PROGRESS=0 $(PY) -m pytest $(PARALLEL) --nbval-lax --durations=15 \
	  --ignore=$(BOOK_TEST) tests notebooks
	$(PY) docs/build.py
	$(PY) -m pytest $(BOOK_TEST)

unit: $(STAMP)
	VIBOOK_PROGRESS=0 $(PY) -m pytest $(PARALLEL) --ignore=$(BOOK_TEST) tests

notebooks: $(STAMP)
	VIBOOK_PROGRESS=0 $(PY) -m pytest $(PARALLEL) --nbval-lax notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check vibook tests benchmarks
	$(VENV)/bin/ruff format --check vibook tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format vibook tests benchmarks

# The book: every notebook with its outputs, a landing page, the API reference (docs/build.py).
# It runs only the notebooks that lack a fresh executed copy; after make test's run, none.
docs: $(STAMP)
	$(PY) docs/build.py

# The notebooks are the instructor edition: each exercise's solution in nbgrader's markup. The
# student edition has the solutions replaced by stubs and the hidden asserts removed.
student: $(STAMP)
	$(PY) scripts/student_edition.py notebooks build/student/notebooks

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b --json || exit 1; done

clean:
	rm -rf $(VENV) .venv-latest .pytest_cache test-artifacts
