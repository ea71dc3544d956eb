#!/usr/bin/env bash
# Lint, format and type-check the card family's paths (run before each commit).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/../.."
paths=(drivers/card simulators/card tests/card bench/card_*.py)
.venv/bin/ruff check --fix -q "${paths[@]}"
.venv/bin/ruff format -q "${paths[@]}"
.venv/bin/ruff check -q "${paths[@]}"
.venv/bin/ruff format --check -q "${paths[@]}"
.venv/bin/mypy "${paths[@]}"
