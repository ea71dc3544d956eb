#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, types, and every test (real broker,
# real pcscd + vpcd, real ptys). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"; .venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest "$@"
