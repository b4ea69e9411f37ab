#!/usr/bin/env bash
# The slow reliability tests (marked @pytest.mark.slow): run them, with their durations.
set -euo pipefail
cd "$(dirname "$0")/.."
# CI runs every reliability test that fits its time; only longer ones are marked slow (at present R1 at 10,000
# cameras, tests/reliability/test_r1_fleet.py, about 2.5 min).
status=0
SHARPEYES_SLOW=1 .venv/bin/python -m pytest tests/reliability -m slow --durations=0 "$@" || status=$?
[ "$status" -eq 5 ] && { echo "no slow reliability tests at present"; exit 0; }
exit "$status"
