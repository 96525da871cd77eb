# Slipway developer entry points. `make demo` and `make test` are the README's Quickstart.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
# Two workers: this project's CI machines have two cores.
WORKERS ?= 2
# Each test module stays on one worker, so a module's fixtures (a Spark session, servers, trained
# bundles) are built once, not once per worker.
XDIST  = -n $(WORKERS) --dist loadscope

.PHONY: install demo test unit integration check-fast lint type check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Slipway with its dev tools

demo: $(STAMP) ## The main job: the whole loop on the embedded default
	$(BIN)/slipway demo

test: $(STAMP) ## The whole test suite (unit, contract, integration) with coverage
	$(PYTEST) $(XDIST) -m "not serial" --cov --cov-report= -q
	$(PYTEST) -m serial --cov --cov-append --cov-report=term:skip-covered -q || [ $$? -eq 5 ]

unit: $(STAMP) ## Unit tests only (no servers, no Feast repos on disk)
	$(PYTEST) $(XDIST) -q tests/unit

integration: $(STAMP) ## Contract and integration tests (real servers on 127.0.0.1)
	$(PYTEST) $(XDIST) -m "not serial" -q tests/contract tests/integration
	$(PYTEST) -m serial -q tests/contract tests/integration || [ $$? -eq 5 ]

check-fast: lint type unit ## What every pull request runs first: lint, type, unit

lint: $(STAMP) ## ruff, format check, import-linter, actionlint, zizmor
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/actionlint -ignore 'runtime "node20" is deprecated'
	$(BIN)/zizmor --offline --no-progress --persona pedantic .github tests/act_shims

type: $(STAMP) ## mypy --strict on our packages
	$(BIN)/mypy

check: lint type

clean:
	rm -rf $(VENV) .tox .slipway reports feature_repo/data .coverage
