# Convenience wrapper: everything goes through tasks.py, which needs only Python 3.11 and pip.
PY ?= python3.11
RESIDENTS ?= 20000
SEED ?= 7

.PHONY: setup demo test dev lint bench spark clean

setup:
	$(PY) tasks.py setup
demo:
	$(PY) tasks.py demo --residents $(RESIDENTS) --seed $(SEED)
test:
	$(PY) tasks.py test
dev:
	$(PY) tasks.py dev
bench:
	$(PY) tasks.py bench --residents 100000 400000 817000
spark:
	$(PY) tasks.py spark
lint: setup
	.venv/bin/ruff check dagster_project tests tasks.py
clean:
	rm -rf var
