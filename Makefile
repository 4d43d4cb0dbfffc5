# OLA Portal — `make run` to try it, `make test` to check it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-long install install-dev migrate seed lint bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

# Zero-setup development run: SQLite and the filesystem Celery broker under var/,
# the web server, two Celery workers (email and every other task on the `celery` queue,
# team webhooks on `webhooks`) and Celery beat started together by honcho (Procfile).
run: export DEBUG ?= true
run: $(RUN_STAMP)
	@mkdir -p var/celery/queue var/celery/processed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  OLA Portal: http://127.0.0.1:8000/   (stop with Ctrl-C)"
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# The whole suite. DATABASE_URL / CELERY_BROKER_URL choose PostgreSQL and Redis (CI);
# browser tests need Debian's chromium (.ci/run installs it).
test: $(DEV_STAMP)
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The clock's state machine at length (CI runs a short, fixed-seed run inside `make test`).
test-long: $(DEV_STAMP)
	CLOCK_MACHINE_EXAMPLES=$${CLOCK_MACHINE_EXAMPLES:-400} CLOCK_MACHINE_STEPS=$${CLOCK_MACHINE_STEPS:-40} \
		$(BIN)/python -m pytest tests/handoffs/test_clock_state_machine.py -q $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(DEV_STAMP)
	$(BIN)/python bench/businesstime.py

# Side by side with django-helpdesk and businesstimedelta (../shared/peers, read-only): one
# table of medians, ratios and goals with the load average; ~15-20 min on 2 cores.
# A quick try: make bench-peers PEERS_ARGS="--size 500 --rounds 3 --skip reports"
bench-peers: $(DEV_STAMP)
	$(BIN)/python bench/peers.py $(PEERS_ARGS)

# Load test with locust (own virtualenv bench/load/.venv) against gunicorn and a
# throw-away PostgreSQL database: bench/load/README.md. Not part of `make test`.
.PHONY: load
load: $(RUN_STAMP)
	$(BIN)/python bench/load/run.py $(LOAD_ARGS)

clean:
	rm -rf var staticfiles .pytest_cache .hypothesis
