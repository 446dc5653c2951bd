# The two promises of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
DEV := CLINICFLOW_ENV=development

.PHONY: install run test lint format clean

$(STAMP): pyproject.toml
	scripts/bootstrap "$(PYTHON)" "$(VENV)"
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(DEV) $(BIN)/clinicflow migrate
	$(DEV) $(BIN)/clinicflow demo
	$(DEV) $(BIN)/clinicflow serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	scripts/test

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
