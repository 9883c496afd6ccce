# Two entry points for newcomers: `make demo` (the directory end to end) and `make test`
# (`make test-fast` while working: the tiers are described in README, "Tests").
# Data is read from ../shared (or SHARED=...), never from the repository.

PYTHON ?= python3
VENV   ?= .venv
SHARED ?= $(abspath ../shared)
SOURCE ?= $(SHARED)/data/of/liste-publique-of-M.csv.gz
REFERENCE ?= $(SHARED)/data/reference
BAN    ?= $(SHARED)/data/of/liste-publique-of-ban.ndjson.gz
# The Liste publique's data.gouv.fr description, offline (what `annuaire fetch` records when online).
METADATA ?= $(SHARED)/data/datagouv/dataset-liste-publique-of.json
OUT    ?= out
BIN    := $(VENV)/bin

.PHONY: install system-packages demo test test-fast lint bench clean

$(BIN)/annuaire: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Front-end assets (Leaflet for the pages, axe-core for the accessibility tests) from npm.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/annuaire node_modules/.package-lock.json

# Debian packages the full test suite needs (Chromium, PostgreSQL with PostGIS, wrk, sqlite3),
# installed when missing (as root, or through sudo without a password; otherwise it says what to install).
system-packages:
	scripts/system-packages.sh

# Builds the directory through a local BAN geocoder (Redis + Addok, started and stopped by the script),
# exports it, then serves it on PORT until Ctrl-C. GEOCODE=0 skips geocoding (commune centroids only);
# PORT=0 does not serve.
PORT ?= 8000
demo: install
	$(BIN)/python scripts/demo.py --source $(SOURCE) --reference $(REFERENCE) --ban $(BAN) --out $(OUT) \
		--port $(PORT) $(if $(filter 0,$(GEOCODE)),--no-geocode,) $(if $(wildcard $(METADATA)),--metadata $(METADATA),)

# Ruff, then mypy over src/ (its configuration, strict parts included, in pyproject.toml).
lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

# Tests run in WORKERS processes (pytest-xdist; WORKERS=0: in pytest's own), a module's tests in one,
# modules handed out in their order (the 150,000-row snapshot's first: it runs beside all the rest).
WORKERS ?= 2
PYTEST  := ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder

# Everything, as CI runs it (.ci/run).
test: install system-packages lint
	$(PYTEST)

# Unit tests, the sample's builds, the API and the website without a browser: no 150,000-row
# snapshot, no PostgreSQL, no Chromium, no Addok or Redis.
test-fast: install
	$(PYTEST) -m 'not slow and not integration and not postgres and not browser and not geocoder and not redis'

bench: install
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/python bench/build.py
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/python bench/geocode.py
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/python bench/search.py
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/python bench/update.py
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/python bench/pages.py
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/python bench/sirene.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache node_modules test-artifacts
