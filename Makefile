# The front door. `make demo` and `make test` are the two commands the README names.
PY      ?= python3.11
VENV    ?= .venv
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed
RESIDENTS ?= 20000
SEED     ?= 7

export DBT_SEND_ANONYMOUS_USAGE_STATS = false
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home

.PHONY: setup demo test dev lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) on PATH (or: make PY=python3 ...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

setup: $(STAMP)

## demo: install, simulate the default city, run the main job on DuckDB, print where things are
demo: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/kikan demo --residents $(RESIDENTS) --seed $(SEED)

## test: the whole test suite (what .ci/run calls)
test: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/pytest

## dev: the Dagster UI on 127.0.0.1:3000 over workspace.yaml
dev: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: $(STAMP)
	$(BIN)/python -m compileall -q dagster_project tests

clean:
	rm -rf var warehouse data
