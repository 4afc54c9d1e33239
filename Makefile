# Two entry points (see README): `make demo` runs the main job, `make test` runs every test.
# Both set everything up first; set-up is skipped when nothing it depends on changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps

.PHONY: demo dev test lint setup clean

demo: setup
	$(BIN)/shuttle demo

dev: setup
	$(BIN)/shuttle dev

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(STAMPS)/python $(STAMPS)/node

# The dev install is constrained by requirements.txt so tests run the versions Azure deploys.
$(STAMPS)/python: pyproject.toml requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is required ($(PYTHON) is older)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.txt -e '.[dev]'
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

clean:
	rm -rf $(VENV) node_modules $(STAMPS) .sandbox
