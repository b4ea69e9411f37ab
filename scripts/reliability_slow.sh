#!/usr/bin/env bash
# The slow reliability tests (marked @pytest.mark.slow): run them, with their durations.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARPEYES_SLOW=1 .venv/bin/python -m pytest tests/reliability -m slow --durations=0 "$@"
