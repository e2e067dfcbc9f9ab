# Moulin — two commands: `make run` (demo server) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
MOULIN_PORT ?= 8000

.PHONY: run test install lint check test-sqlite test-postgres messages screenshots benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/bin/uv: | $(PY)
	$(VENV)/bin/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)" \
	  || { echo "pip could not install uv"; exit 1; }

# Dependencies come from the committed uv.lock; pip is the fallback if uv cannot run.
$(VENV)/.installed: uv.lock pyproject.toml | $(VENV)/bin/uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync --frozen --inexact --python $(PY) -q \
	  || { $(VENV)/bin/uv export --frozen --no-hashes -q -o $(VENV)/requirements.txt \
	       && $(VENV)/bin/pip install -q -r $(VENV)/requirements.txt; }
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py demo_load
	MOULIN_PORT=$(MOULIN_PORT) bash scripts/serve-dev.sh

lint: install
	$(VENV)/bin/ruff check .
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache

check: install
	MOULIN_ENV=test $(PY) manage.py check
	MOULIN_ENV=test $(PY) manage.py makemigrations --check --dry-run -v0 \
	  || { echo "Models changed without a migration: run manage.py makemigrations"; exit 1; }

# The whole suite on SQLite, then again on PostgreSQL when DATABASE_URL points to one.
test: lint check
	env -u DATABASE_URL MOULIN_ENV=test $(VENV)/bin/pytest
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== the same suite on PostgreSQL"; \
	  MOULIN_ENV=test $(VENV)/bin/pytest; \
	else echo "DATABASE_URL is not set: PostgreSQL run skipped (.ci/run sets it)."; fi

messages: install
	cd moulin && ../$(PY) ../manage.py makemessages -l fr -l en --no-obsolete --no-location
	cd moulin && ../$(PY) ../manage.py compilemessages

screenshots: install
	MOULIN_ENV=test MOULIN_SCREENSHOTS=1 $(VENV)/bin/pytest tests/browser -q

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
