# Everything a fresh machine with Python 3.11+ needs: `make demo` runs the main job end to end,
# `make test` runs the tests. Both create .venv and install the locked dependencies first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.8
export DAGSTER_HOME := $(CURDIR)/dagster_home
export GX_ANALYTICS_ENABLED := false

.PHONY: install demo test test-fast dev sandbox lint lock clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

demo: install
	$(BIN)/python -m sandbox demo

# Every test, both tiers, on two workers (what CI runs after `make lint`): a module runs whole on one worker, the
# modules with slow tests first (tests/conftest.py). `make test WORKERS=` runs them in one process.
# `make test-fast`: the unit tier alone, no server needed.
WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder
test: install
	$(BIN)/python -m pytest -q $(WORKERS)

test-fast: install
	$(BIN)/python -m pytest -q -m unit

dev: install
	$(BIN)/python -m sandbox dev

sandbox: install
	$(BIN)/python -m sandbox serve

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) dagster_home/storage dagster_home/history dagster_home/logs dagster_home/schedules \
	       dagster_home/warehouse.sqlite dagster_home/sandbox dagster_home/demo-summary.json
