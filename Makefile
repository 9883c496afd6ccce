# Two entry points for newcomers: `make demo` (the directory end to end) and `make test`.
# Data is read from ../shared (or SHARED=...), never from the repository.

PYTHON ?= python3
VENV   ?= .venv
SHARED ?= $(abspath ../shared)
SOURCE ?= $(SHARED)/data/of/liste-publique-of-M.csv.gz
REFERENCE ?= $(SHARED)/data/reference
OUT    ?= out
BIN    := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/annuaire: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/annuaire

demo: install
	$(BIN)/annuaire build --source $(SOURCE) --reference $(REFERENCE) --db $(OUT)/annuaire.db
	$(BIN)/annuaire export --db $(OUT)/annuaire.db --out $(OUT)/export

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

test: install lint
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/pytest -q

bench: install
	ANNUAIRE_SHARED_DIR=$(SHARED) $(BIN)/python bench/build.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
