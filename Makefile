# The two commands of the README:
#   make demo   run the daemon on a simulated Trezor and show its status (no Trezor or desktop needed)
#   make test   run every check and test
# Both install what they need first (system packages via apt-get when root).

VENV ?= .venv
PY := $(VENV)/bin/python
PREFIX ?= /usr/local

.PHONY: demo test lint system-packages

system-packages:
	sh tests/setup-system.sh

$(VENV)/.installed: pyproject.toml
	sh tests/setup-system.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check daemon tests
	$(VENV)/bin/ruff format --check daemon tests
	$(VENV)/bin/mypy

test: system-packages $(VENV)/.installed lint
	umockdev-wrapper $(PY) -m pytest

demo: system-packages $(VENV)/.installed
	sh tests/demo.sh $(PY)
