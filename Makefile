# trustledger: `make demo` to see it work, `make test` to run the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: install demo test check lint typecheck format bench bench-api bench-ingest bench-linkage bench-batch clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install trustledger with its development tools

demo: $(STAMP) ## Generate a synthetic city into var/trustledger.db, score it, explain three subjects
	$(BIN)/trustledger demo --reset $(DEMO_ARGS)

test: $(STAMP) ## Run the whole suite on SQLite and on a throwaway PostgreSQL server
	scripts/ensure-browser
	scripts/with-postgres scripts/run-tests $(PYTEST_ARGS)

check: lint typecheck ## Lint and type-check

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/trustledger
	$(BIN)/mypy tests

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP) ## Scoring benchmark: 100,000 subjects, ~2 million records, SQLite
	$(BIN)/python bench/score.py

bench-api: $(STAMP) ## HTTP benchmark: decisions/s and latency with wrk, beside a trivial endpoint
	$(BIN)/python bench/api.py

bench-ingest: $(STAMP) ## Ingest benchmark: a 1,000,000-row CSV on SQLite and PostgreSQL, beside executemany and COPY
	scripts/with-postgres $(BIN)/python bench/ingest.py

bench-linkage: $(STAMP) ## Identity resolution: precision and recall at 100,000 records
	$(BIN)/python bench/linkage.py

bench-batch: $(STAMP) ## Batch engines: rescore 1,000,000 subjects with DuckDB and Spark, beside a bare aggregate
	$(BIN)/python bench/batch.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
