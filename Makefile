# Quick start: `make run` (materialize every asset for today's partition on config/sources.yaml)
# and `make test`. Both create .venv and install the project on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Run history lives beside the data it describes: <data dir>/.dagster, unless DAGSTER_HOME is set.
DATA_DIR := $(or $(PARTNERSHIP_DATA_DIR),data)
DEV_DAGSTER_HOME := $(or $(DAGSTER_HOME),$(abspath $(DATA_DIR))/.dagster)

.PHONY: run test install dev backfill lint bench bench-registry bench-fanout clean browser redis docs test-distributed

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: Python 3.11 is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/partnership run $(if $(DATE),--date $(DATE),)

# make backfill START=2026-01-01 END=2026-01-31 : one run over the whole date range
backfill: $(STAMP)
	$(BIN)/partnership backfill --start $(START) --end $(END)

# rebuild the DuckDB catalog and the data dictionary from what is published
docs: $(STAMP)
	$(BIN)/partnership docs

# Debian packages some tests need (chromium for the report's browser test, redis-server for the
# Celery executor's test), installed where apt-get can run as root; otherwise those tests skip and
# say why. $(call debian_package,<command>,<package>,<what needs it>)
define debian_package
@command -v $(1) >/dev/null 2>&1 || \
{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "installing $(2) (Debian) for $(3)"; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(2) >/dev/null 2>&1 || \
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(2) >/dev/null 2>&1; } || \
    echo "$(2) could not be installed: $(3) will skip"; \
  else echo "$(1) not found and apt-get not usable: $(3) will skip"; fi; }
endef

browser:
	$(call debian_package,chromium,chromium,the report's browser test)

redis:
	$(call debian_package,redis-server,redis-server,the Celery executor's test)

# two pytest workers (pytest-xdist): the suite's long tests are mostly waiting on subprocesses
PYTEST_ARGS ?= -n 2
test: $(STAMP) browser redis
	$(BIN)/python -m pytest $(PYTEST_ARGS)

dev: $(STAMP)
	mkdir -p $(DEV_DAGSTER_HOME)
	$(BIN)/python -m pipelines.instance $(DEV_DAGSTER_HOME)
	DAGSTER_HOME=$(DEV_DAGSTER_HOME) $(BIN)/dagster dev -w workspace.yaml

lint: $(STAMP)
	$(BIN)/ruff check pipelines assets schemas tests benchmarks
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/iati_parse.py
	$(BIN)/python benchmarks/org_matching.py
	$(BIN)/python benchmarks/screening.py
	$(BIN)/python benchmarks/reader_memory.py
	$(BIN)/python benchmarks/backfill.py
	$(BIN)/python benchmarks/nightly.py

# a registry-shaped run (1,000 generated files, heavy-tailed sizes): minutes, so not part of bench
bench-registry: $(STAMP)
	$(BIN)/python benchmarks/registry.py

# the nightly job on Celery: Redis and workers started on 127.0.0.1 and stopped, one worker against
# two, every table compared with an in-process run (the Celery test of `make test` does the same
# with two workers)
test-distributed: $(STAMP) redis
	$(BIN)/python benchmarks/distributed.py

# the IATI work alone on Celery: 300 generated files (80 MB) in units of 8 MB, a task each
bench-fanout: $(STAMP) redis
	$(BIN)/python benchmarks/distributed.py --registry-files 300 --registry-mb 80 --unit-mb 8

clean:
	rm -rf $(VENV)
