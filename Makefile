# Slipway developer entry points. `make demo` and `make test` are the README's Quickstart.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint type check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Slipway with its dev tools

demo: $(STAMP) ## The main job: the whole loop on the embedded default
	$(BIN)/slipway demo

test: $(STAMP) ## The test suite (unit + integration)
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered -q

lint: $(STAMP) ## ruff, format check, import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/actionlint -ignore 'runtime "node20" is deprecated'
	$(BIN)/zizmor --offline --no-progress --persona pedantic .github tests/act_shims

type: $(STAMP) ## mypy --strict on our packages
	$(BIN)/mypy

check: lint type

clean:
	rm -rf $(VENV) .tox .slipway reports feature_repo/data
