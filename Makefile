# `make run` and `make test` are all a fresh Debian machine with Python 3.11 needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The locks pin every package with its hashes: requirements.lock what runs the site,
# requirements-test.lock that and the test tools. `make lock` writes them from pyproject.toml.
LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
UV_VERSION := 0.13.9
LOCK_ARGS ?=
CHECKED := paperwire tests bench tools

.PHONY: run test test-postgres lint lock bench-import screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What runs the site, and no test tool.
$(VENV)/.run-installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test-installed: $(TEST_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.run-installed
	$(BIN)/paperwire migrate --noinput
	$(BIN)/paperwire import paperwire/demo/attention_papers.jsonl
	$(BIN)/paperwire demo
	@# The worker beside the site (submissions arXiv did not answer at once, digests; docs/cli.md),
	@# stopped with it.
	$(BIN)/paperwire worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/paperwire serve --host $(HOST) --port $(PORT)

test: $(VENV)/.test-installed
	$(BIN)/pytest $(PYTEST_ARGS)

# Needs a PostgreSQL server; .ci/run starts Debian's and runs this with its URL, after `make
# test`. It runs the tests whose database is PostgreSQL then: the others (no database, or a child
# process's SQLite file) would do exactly what they did in `make test`.
test-postgres: $(VENV)/.test-installed
	DATABASE_URL=$${DATABASE_URL:-postgres://paperwire:paperwire@127.0.0.1:5432/paperwire} $(BIN)/pytest --postgres-pass $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

# Writes both locks again from pyproject.toml (Python 3.11, Linux x86_64), keeping the pinned
# versions that still fit; `make lock LOCK_ARGS=--upgrade` moves every package to its newest.
lock:
	test -x .cache/uv/bin/uv || ($(PYTHON) -m venv .cache/uv && .cache/uv/bin/pip install --quiet uv==$(UV_VERSION))
	.cache/uv/bin/uv pip compile pyproject.toml $(LOCK_ARGS) --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" --quiet -o $(LOCK)
	.cache/uv/bin/uv pip compile pyproject.toml --extra test -c $(LOCK) $(LOCK_ARGS) --generate-hashes \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
		--quiet -o $(TEST_LOCK)

bench-import: $(VENV)/.test-installed
	$(BIN)/python bench/import_speed.py

# docs/screenshots/: the main pages at 1280 and 390 px, light and dark (needs Debian's chromium).
screenshots: $(VENV)/.test-installed
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
