#!/usr/bin/env bash
# The one test command: creates or reuses .venv, installs the project with its dev extras,
# then runs ruff (lint + format check), mypy, the layers contract (import-linter) and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet -e '.[dev]' 2>&1 | grep -v -E '^WARNING: Location .* is ignored' || true
.venv/bin/python -c 'import llm_session_manager, typer, rich, psutil, orjson, yaml' 

echo "== ruff check"
.venv/bin/ruff check .
echo "== ruff format --check"
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== layers contract"
.venv/bin/lint-imports --no-logo --no-cache
echo "== pytest"
# Every test, spread over up to 4 worker processes (one per core; TEST_WORKERS=0 runs them in this one),
# a test file to a worker, so a file's shared fixtures (a world of command outputs, a PostgreSQL cluster)
# are built once. Each test has its own HOME, data dir and discovery folder (tests/conftest.py).
.venv/bin/python -m pytest -n "${TEST_WORKERS:-auto}" --maxprocesses 4 --dist loadfile "$@"
