# The two commands of the README, and the chores around them. Needs only python3 (3.11+) and make.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
ADDRPORT ?= 127.0.0.1:8000
RADICALE_PORT ?= 5232

# A local .env (see .env.example) configures `make run` the same way it configures docker compose.
ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: run demo test install lint format check

run: install  ## Migrate, then run the web server, the Celery workers and Celery beat until Ctrl-C.
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py runstack $(ADDRPORT)

demo: install  ## Like run, plus a local CalDAV server and a demo user whose calendars already sync.
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	OUTBOUND_ALLOW_LOOPBACK=true SYNC_POLL_INTERVAL_SECONDS=30 $(PY) manage.py demo $(ADDRPORT) --radicale-port $(RADICALE_PORT)

test: install  ## The whole suite; brings up PostgreSQL, Redis and Chromium if need be (tests/testenv.py).
	$(PY) -m tests.testenv $(PY) -m pytest -n 2 $(ARGS)

install: $(VENV)/.installed

lint: install  ## ruff, the import contract of the layers, and mypy (all three in pyproject.toml).
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: install  ## What a deployment must pass: migrations in step and the Django system checks.
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@
