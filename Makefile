# Convenience wrapper: everything goes through tasks.py, which needs only Python 3.11 and pip.
PY ?= python3.11
RESIDENTS ?= 20000
SEED ?= 7

.PHONY: setup demo test dev lint clean

setup:
	$(PY) tasks.py setup
demo:
	$(PY) tasks.py demo --residents $(RESIDENTS) --seed $(SEED)
test:
	$(PY) tasks.py test
dev:
	$(PY) tasks.py dev
lint: setup
	.venv/bin/ruff check dagster_project tests tasks.py
clean:
	rm -rf var
