# Two entry points (see README): `make demo` runs the main job, `make test` runs every test.
# Both set everything up first; set-up is skipped when nothing it depends on changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps

.PHONY: demo dev test lint setup clean infra-check browser

# checkov scans infra/ in a venv of its own: it pins parsers (bc-python-hcl2, pycep-parser 0.5)
# that clash with the ones tests/infra uses. Pinned: a new version brings new checks.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV := CKV_PARSE_ERROR_FAIL=true $(CHECKOV_VENV)/bin/checkov --compact --quiet --skip-download

demo: setup
	$(BIN)/shuttle demo

dev: setup
	$(BIN)/shuttle dev

test: setup infra-check browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# mypy's scope and strictness are in pyproject.toml ([tool.mypy]: shared/, functions/,
# function_app.py).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: $(STAMPS)/python $(STAMPS)/node

# The console's browser tests (tests/browser) drive Debian's chromium through Playwright's
# executable_path: Playwright's own browser download cannot work on these machines.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "The browser tests need Debian's chromium: run 'sudo apt-get install chromium' (or make test as root)"; \
			exit 1; \
		fi; }

# Zero failed checks in both IaC variants and in the secrets scan of infra/; parse errors fail
# too (CKV_PARSE_ERROR_FAIL). Skips are inline, each with its reason, next to the resource or
# line they concern.
infra-check: $(STAMPS)/checkov-$(CHECKOV_VERSION)
	$(CHECKOV) -d infra/bicep --framework bicep
	$(CHECKOV) -d infra/terraform --framework terraform
	$(CHECKOV) -d infra --framework secrets

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

$(STAMPS)/checkov-$(CHECKOV_VERSION):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 9))' || \
		{ echo "checkov needs Python 3.9 or newer ($(PYTHON) is older)"; exit 1; }
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	@mkdir -p $(STAMPS) && rm -f $(STAMPS)/checkov-* && touch $@

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules $(STAMPS) .sandbox
