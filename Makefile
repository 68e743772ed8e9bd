# Everyday entry points. `make test` on a fresh clone builds the virtualenv first.
VENV ?= .venv
PYTHON ?= python3.11
DEMO_ARGS ?=

.PHONY: install demo test test-fast lint

install: $(VENV)/.installed

# The stamp is rebuilt whenever pyproject.toml changes (new or re-pinned dependencies).
$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/mmssl demo $(DEMO_ARGS)

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest

# Under a minute: no training runs, no extra processes (markers in pyproject.toml).
test-fast: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -m "not slow and not multiprocess"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
