#!/usr/bin/env bash
# The test command: lint, types, then the whole test suite (unit, integration against real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
