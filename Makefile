# hstvo: two commands do everything.
#   make run    install what is missing, start PostgreSQL+pgsphere under ./var/ (unless
#               DATABASE_URL is set), migrate, load the sample data, serve on 127.0.0.1:8080
#   make test   the whole test suite against a real PostgreSQL+pgsphere
SHELL := /bin/bash
.DEFAULT_GOAL := help

PG_VERSION ?= 15
VENV       ?= .venv
PYTHON     ?= python3
HSTVO      := $(VENV)/bin/hstvo
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_BIN     := /usr/lib/postgresql/$(PG_VERSION)/bin/postgres
PGSPHERE   := /usr/share/postgresql/$(PG_VERSION)/extension/pg_sphere.control
PGCRON     := /usr/share/postgresql/$(PG_VERSION)/extension/pg_cron.control

.PHONY: help run test test-tools deps system-deps venv bench clean

help:
	@echo "make run    start the archive on http://127.0.0.1:$${HSTVO_PORT:-8080}/ (sample data loaded)"
	@echo "make test   run the test suite against a real PostgreSQL+pgsphere"
	@echo "make bench  run the benchmarks under bench/"
	@echo "make clean  stop the embedded cluster and remove ./var and the virtualenv"

deps: system-deps venv

# PostgreSQL, pgsphere and pg_cron (scheduled harvests) from Debian, and what a fresh machine
# lacks to build a virtualenv
system-deps:
	@missing=""; \
	[ -x "$(PG_BIN)" ] || missing="$$missing postgresql-$(PG_VERSION)"; \
	[ -f "$(PGSPHERE)" ] || missing="$$missing postgresql-$(PG_VERSION)-pgsphere"; \
	[ -f "$(PGCRON)" ] || missing="$$missing postgresql-$(PG_VERSION)-cron"; \
	command -v psql >/dev/null || missing="$$missing postgresql-client-$(PG_VERSION)"; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

run: deps
	@if [ -z "$$DATABASE_URL" ]; then $(HSTVO) db start; fi
	$(HSTVO) db upgrade
	$(HSTVO) samples
	$(HSTVO) users bootstrap
	$(HSTVO) serve

test: deps test-tools
	$(VENV)/bin/python -m pytest

# the community's validators the tests run against the service (taplint, datalinklint),
# libfuse 2 for CADC's mountvofs (the VOSpace mounted read-only; skipped where FUSE is not),
# and Debian's headless Chromium with its chromedriver for the portal's browser tests
test-tools:
	@missing=""; \
	command -v stilts >/dev/null || missing="$$missing stilts"; \
	ldconfig -p | grep -q 'libfuse.so.2' || missing="$$missing libfuse2"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing || \
	  echo "could not install$$missing: the tests that need them say so and are skipped"; \
	fi

bench: deps
	@if [ -z "$$DATABASE_URL" ]; then $(HSTVO) db start; fi
	$(VENV)/bin/python bench/xml_import.py

clean:
	-[ -x $(HSTVO) ] && $(HSTVO) db stop
	rm -rf var $(VENV) *.egg-info
