# Two commands do all the set-up on a fresh machine:
#   make demo   install what the demo needs, build the demo data and bundle if missing,
#               start the API and dashboard
#   make test   install everything (dev set), start throwaway PostgreSQL/Redis if none is
#               running, run the whole test suite with coverage
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
DEMO_REQUIREMENTS := requirements-demo.txt requirements-train.txt requirements-api.txt \
	requirements-dashboard.txt clients/python/pyproject.toml
REQUIREMENTS := requirements-dev.txt requirements-delivery.txt requirements-spark.txt $(DEMO_REQUIREMENTS)
# Every install takes its versions from the lock (`make lock` regenerates it): the versions the
# tests ran with are the ones a deploy installs. No --quiet: a first install takes minutes.
LOCK := requirements.lock
PIP_INSTALL := $(PIP) install -c $(LOCK)
# make test-fast leaves out every marked test (the markers of pyproject.toml).
FAST_MARKERS := not slow and not realdata and not postgres and not redis and not e2e

.PHONY: help install install-demo lock system-deps demo demo-bundle api dashboard test test-fast lint typecheck postman bench clean

help:
	@echo "make demo   - install the demo set, build demo data + bundle if missing, start API (:$(API_PORT)) and dashboard (:$(DASHBOARD_PORT))"
	@echo "make test   - install the dev set, run the whole test suite with coverage (throwaway PostgreSQL/Redis if none runs)"
	@echo "make test-fast - the tests not marked slow, realdata, postgres, redis or e2e"
	@echo "make lock   - regenerate $(LOCK) from the requirements files"
	@echo "make postman - regenerate the Postman collection and environment (docs/postman/) from the OpenAPI document"
	@echo "make lint / typecheck / bench / clean"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall only when a requirements file or the lock changed. The demo set (core + training,
# API, dashboard) is a part of the dev set (+ delivery validators, test and lint tools).
$(VENV)/.installed-demo: $(DEMO_REQUIREMENTS) $(LOCK) | $(PY)
	@echo "== installing the demo set into $(VENV) (core + training, API, dashboard)"
	$(PIP_INSTALL) -r requirements-demo.txt
	touch $@

$(VENV)/.installed: $(REQUIREMENTS) $(LOCK) | $(PY)
	@echo "== installing the dev set into $(VENV) (the demo set + delivery, test and lint tools)"
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.installed-demo

# The project itself, editable and without dependencies: the `scoring` console command.
$(VENV)/bin/scoring: pyproject.toml | $(PY)
	$(PIP) install --no-deps --editable .
	touch $@

install-demo: $(VENV)/.installed-demo $(VENV)/bin/scoring
install: $(VENV)/.installed $(VENV)/bin/scoring

# Pins every package the requirements files need, for the deploy target (Linux, Python 3.11).
# The repository's own client package (clients/python) is not pinned: pip refuses a local path
# as a constraint, and its version is the checkout's. Its dependencies are pinned.
lock: | $(PY)
	@test -x $(VENV)/bin/uv || $(PIP) install "$$(grep -o '^uv[^ #]*' requirements-dev.txt)"
	$(VENV)/bin/uv pip compile requirements-dev.txt --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
		--no-emit-package pret-a-depenser-client --quiet -o $(LOCK)

# Debian packages the tests need (headless Chromium for tests/e2e, Java 17 for the Spark batch
# engine). Installed only when missing.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium is missing: run 'sudo apt-get install -y chromium' (needed by tests/e2e)"; exit 1; \
		fi; \
	fi
	@if ! command -v java >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
		else \
			echo "java is missing: run 'sudo apt-get install -y openjdk-17-jre-headless' (needed by the Spark batch tests)"; exit 1; \
		fi; \
	fi

$(DEMO_DATA)/application_train.parquet: | install-demo
	$(PY) -m scoring demo-data --out $(DEMO_DATA) --rows $(DEMO_ROWS)

# manifest.json: a bundle of an older format (no manifest) is rebuilt, not refused at start-up
$(DEMO_BUNDLE)/manifest.json: $(DEMO_DATA)/application_train.parquet
	$(PY) -m scoring train --data $(DEMO_DATA) --out $(DEMO_BUNDLE) --no-mlflow

demo-bundle: install-demo $(DEMO_BUNDLE)/manifest.json

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
	$(VENV)/bin/uvicorn api.main:app --host 127.0.0.1 --port $(API_PORT) --no-server-header & api_pid=$$!; \
	trap 'kill $$api_pid 2>/dev/null' EXIT INT TERM; \
	$(PY) -m streamlit run dashboard/app.py --server.port $(DASHBOARD_PORT) \
		--server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false

# tests.services starts a throwaway PostgreSQL / Redis when none answers on 127.0.0.1 (Debian's
# postgresql and redis-server, installed when missing and run as root) and exports their URLs.
test: install system-deps
	$(PY) -m tests.services --install -- $(VENV)/bin/pytest --cov --cov-report=term --cov-report=xml

test-fast: install
	$(VENV)/bin/pytest -m "$(FAST_MARKERS)" -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check scoring

typecheck: install
	$(VENV)/bin/mypy

# The Postman collection and environment (docs/postman/), generated from the OpenAPI document.
postman: | $(PY)
	$(PY) -m api.postman

bench: install demo-bundle
	$(PY) bench/training.py
	$(PY) bench/api.py
	$(PY) bench/dashboard.py

clean:
	rm -rf var/cache .pytest_cache .mypy_cache .ruff_cache .coverage coverage.xml
