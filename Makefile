# Two commands do all the set-up on a fresh machine:
#   make demo   install, build the demo data and bundle if missing, start the API and dashboard
#   make test   install, run the whole test suite with coverage
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_DIR := var/demo
DEMO_DATA := $(DEMO_DIR)/data
DEMO_BUNDLE := $(DEMO_DIR)/bundle
DEMO_ROWS ?= 20000
DEMO_KEY_FILE := $(DEMO_DIR)/api-key
API_PORT ?= 8000
DASHBOARD_PORT ?= 8501
REQUIREMENTS := requirements-dev.txt requirements-train.txt requirements-api.txt \
	requirements-dashboard.txt $(wildcard requirements-delivery.txt)

.PHONY: help install system-deps demo demo-bundle api dashboard test test-fast lint typecheck bench clean

help:
	@echo "make demo   - install, build demo data + bundle if missing, start API (:$(API_PORT)) and dashboard (:$(DASHBOARD_PORT))"
	@echo "make test   - install, run the whole test suite with coverage"
	@echo "make lint / typecheck / bench / clean"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(VENV)/.installed: $(REQUIREMENTS) | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Debian packages the end-to-end tests need (headless Chromium). Installed only when missing.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium is missing: run 'sudo apt-get install -y chromium' (needed by tests/e2e)"; exit 1; \
		fi; \
	fi

$(DEMO_DATA)/application_train.parquet: | $(VENV)/.installed
	$(PY) -m scoring demo-data --out $(DEMO_DATA) --rows $(DEMO_ROWS)

$(DEMO_BUNDLE)/metadata.json: $(DEMO_DATA)/application_train.parquet
	$(PY) -m scoring train --data $(DEMO_DATA) --out $(DEMO_BUNDLE) --no-mlflow

demo-bundle: install $(DEMO_BUNDLE)/metadata.json

$(DEMO_KEY_FILE):
	@mkdir -p $(DEMO_DIR)
	@$(PY) -c "import secrets; print(secrets.token_urlsafe(24))" > $@
	@chmod 600 $@

demo: demo-bundle $(DEMO_KEY_FILE)
	@key=$$(cat $(DEMO_KEY_FILE)); \
	echo ""; \
	echo "  API        http://127.0.0.1:$(API_PORT)   (docs: http://127.0.0.1:$(API_PORT)/docs)"; \
	echo "  Dashboard  http://127.0.0.1:$(DASHBOARD_PORT)"; \
	echo "  API key    $$key   (header X-API-Key; name 'demo')"; \
	echo ""; \
	export SCORING_BUNDLE=$(DEMO_BUNDLE) SCORING_CLIENTS=$(DEMO_DATA) \
		API_KEYS="demo:$$key" API_URL=http://127.0.0.1:$(API_PORT) API_KEY="$$key"; \
	$(VENV)/bin/uvicorn api.main:app --host 127.0.0.1 --port $(API_PORT) & api_pid=$$!; \
	trap 'kill $$api_pid 2>/dev/null' EXIT INT TERM; \
	$(PY) -m streamlit run dashboard/app.py --server.port $(DASHBOARD_PORT) \
		--server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false

test: install system-deps
	$(VENV)/bin/pytest --cov --cov-report=term --cov-report=xml

test-fast: install
	$(VENV)/bin/pytest -m "not slow" -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check scoring

typecheck: install
	$(VENV)/bin/mypy

bench: demo-bundle
	$(PY) bench/training.py
	$(PY) bench/api.py
	$(PY) bench/dashboard.py

clean:
	rm -rf var/cache .pytest_cache .mypy_cache .ruff_cache .coverage coverage.xml
