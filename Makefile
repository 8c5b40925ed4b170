# `make run` and `make test` are all a fresh Debian machine with Python 3.11 needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-postgres lint bench-import screenshots clean

$(BIN)/paperwire: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/paperwire
	$(BIN)/paperwire migrate --noinput
	$(BIN)/paperwire import paperwire/demo/attention_papers.jsonl
	@# The worker beside the site (submissions arXiv did not answer at once, digests; docs/cli.md),
	@# stopped with it.
	$(BIN)/paperwire worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/paperwire serve --host $(HOST) --port $(PORT)

test: $(BIN)/paperwire
	$(BIN)/pytest $(PYTEST_ARGS)

# Needs a PostgreSQL server; .ci/run starts Debian's and runs this with its URL.
test-postgres: $(BIN)/paperwire
	DATABASE_URL=$${DATABASE_URL:-postgres://paperwire:paperwire@127.0.0.1:5432/paperwire} $(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/paperwire
	$(BIN)/ruff check paperwire tests bench tools

bench-import: $(BIN)/paperwire
	$(BIN)/python bench/import_speed.py

# docs/screenshots/: the main pages at 1280 and 390 px, light and dark (needs Debian's chromium).
screenshots: $(BIN)/paperwire
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
