# iamflow: install, test and run. `make test` is what CI runs (.ci/run).
#
#   make venv    create .venv and install the locked requirements (only when they changed)
#   make test    lint, then the whole test suite        PYTEST_ARGS="-k clients -x" to narrow it
#   make test-wheel  the built wheel in clean virtualenvs (Airflow 3.3 and 3.1 locks): init, DAGs, UI
#   make lint    ruff, mypy (strict on spec/, policy/, resources/) and the import contracts
#   make run     the demo: embedded AWS, seeded account, every DAG once, recap and report paths
#   make up      the same stack as a live Airflow UI on http://localhost:8080
#   make lock    rewrite requirements.txt from .venv (after adding or upgrading a package)
#   make clean   caches and generated output (reports/, .airflow/); `make distclean` also removes .venv

# the interpreter that creates .venv; python3.11 (what the lock was made with) is preferred when
# PYTHON is not given
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?= -n 2 --dist worksteal -q
LINT_PATHS ?= include tests dags plugins bench tools

BIN := $(VENV)/bin
STAMP := $(VENV)/.iamflow-installed

.DEFAULT_GOAL := help
.PHONY: help venv test test-wheel lint run up lock clean distclean

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

venv: $(STAMP)

# the stamp is newer than the lock and pyproject.toml once they are installed: re-runs are instant
$(STAMP): requirements.txt pyproject.toml
	@set -e; \
	if [ ! -x "$(BIN)/python" ]; then \
		py="$(PYTHON)"; \
		if [ "$(origin PYTHON)" = file ] && command -v python3.11 >/dev/null 2>&1; then py=python3.11; fi; \
		"$$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
			|| { echo "iamflow needs Python >= 3.11; run: make PYTHON=/path/to/python3.11" >&2; exit 1; }; \
		echo "Creating $(VENV) with $$("$$py" --version)"; \
		"$$py" -m venv "$(VENV)"; \
	fi
	@# uv (pinned in the lock) installs the lock in seconds; pip does it, slower, if uv cannot
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-compile "$$(grep '^uv==' requirements.txt)"
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.txt \
		|| $(BIN)/python -m pip install --disable-pip-version-check -q --no-compile -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check $(wildcard $(LINT_PATHS))
	$(BIN)/mypy
	PYTHONPATH=include $(BIN)/lint-imports --no-logo

test: lint
	$(BIN)/pytest $(PYTEST_ARGS) tests
	$(MAKE) test-wheel

# one reusable virtualenv per lock (.venv-wheel-<lock>-<hash>/); only the wheel is reinstalled
test-wheel: venv
	$(BIN)/python -m tools.wheel_check

run: venv
	$(BIN)/python -m tools.demo run

up: venv
	$(BIN)/python -m tools.demo up

lock: venv
	@{ sed '/^[^#]/,$$d' requirements.txt; $(BIN)/python -m pip freeze --exclude-editable; } > requirements.txt.new
	@mv requirements.txt.new requirements.txt
	@touch $(STAMP)  # what is installed is exactly the new lock
	@echo "requirements.txt: $$(grep -c '==' requirements.txt) pinned packages"

clean:
	rm -rf .pytest_cache .ruff_cache build reports test-artifacts .airflow
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .venv-wheel-*
