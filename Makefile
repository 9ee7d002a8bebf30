# robustloss: `make demo` runs the digits demo, `make test` the tests. Both create .venv and
# install the package (editable, with dev extras) when it is missing or pyproject.toml is newer.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test lint tables clean-demo

help:  ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "robustloss needs Python >= 3.10 (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install robustloss with dev extras

demo: $(STAMP)  ## all seven losses x 4 noise rates x 2 seeds on digits, then Tables 1-2
	$(PY) scripts/demo.py

test: $(STAMP)  ## run the test suite
	$(PY) -m pytest -q

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check src tests scripts

tables: $(STAMP)  ## tables from the records under RESULTS (default results/demo)
	$(PY) -m robustloss.tables $(or $(RESULTS),results/demo)

clean-demo:  ## delete the demo's records
	rm -rf results/demo
