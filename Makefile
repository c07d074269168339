# The verbs a newcomer types. `make lab` and `make test` do all the set-up themselves.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vibook-installed

.PHONY: lab test unit notebooks lint format benchmarks clean help

help:
	@echo "make lab    - set up .venv and open the notebooks in JupyterLab"
	@echo "make test   - set up .venv and run every test (unit tests and all notebooks)"
	@echo "make unit   - unit tests only;  make notebooks - notebooks only"
	@echo "make lint   - ruff;  make benchmarks - run every benchmark and print its JSON"

$(PY):
	@py=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[lab,test,dev]"
	$(PY) -m ipykernel install --sys-prefix --name vibook --display-name "Python (vibook)" >/dev/null
	@touch $(STAMP)

# JupyterLab refuses to run as root unless told; containers and Binder-like machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT)

# Test files run in parallel, one file to a worker (pytest-xdist's loadfile): a notebook's cells
# run in order in its own kernel, and a module's fixtures are built once. Up to 4 workers: each
# JAX process already uses every core to run what it compiled; compiling is what runs in parallel.
PARALLEL := --numprocesses=auto --maxprocesses=4 --dist=loadfile

test: $(STAMP)
	VIBOOK_PROGRESS=0 $(PY) -m pytest $(PARALLEL) --nbval-lax --durations=15 tests notebooks

unit: $(STAMP)
	VIBOOK_PROGRESS=0 $(PY) -m pytest $(PARALLEL) tests

notebooks: $(STAMP)
	VIBOOK_PROGRESS=0 $(PY) -m pytest $(PARALLEL) --nbval-lax notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check vibook tests benchmarks
	$(VENV)/bin/ruff format --check vibook tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format vibook tests benchmarks

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b --json || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
