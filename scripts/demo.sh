#!/usr/bin/env bash
# Zero-setup demo: a private Mosquitto, the daemon and every simulator, with a live view of events.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/passerelle demo "$@"
