#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, types, and every test (real broker,
# real pcscd + vpcd, real ptys), then the TypeScript client's Node tier and the headless Chromium
# tier against a real daemon. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"; .venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
# The unit tier first (tests/unit/: no broker, no child process; seconds), so a broken seam fails fast.
echo "== pytest: unit tier"; .venv/bin/pytest -m "not system" "$@"
# Then the system tier, every real-component test. Three workers on two cores: most tests wait on
# brokers, pcscd or timeouts, not on the CPU (the tier takes about a third of its serial time); whole
# files stay on one worker (module fixtures).
echo "== pytest: system tier"
if ! .venv/bin/pytest -m system -n 3 --dist loadfile "$@"; then
    # A real-component test can lose a race to another worker on two cores (a free port taken between
    # its choice and its bind, a slow pcscd): what failed runs once more, alone and serially. A test that
    # fails again fails the suite; both runs stay in the log.
    echo "== pytest: the failures again, serially"
    .venv/bin/pytest -m system --last-failed --last-failed-no-failures none -p no:randomly "$@"
fi
echo "== clients/js build"; (cd clients/js && npm run --silent build)
echo "== node tier"; bash clients/js/scripts/run-tier.sh node clients/js/test/unit.test.mjs clients/js/test/reconnect.unit.test.mjs \
    clients/js/test/daemon.test.mjs clients/js/test/asyncapi.test.mjs
echo "== browser tier"; bash clients/js/scripts/run-tier.sh browser clients/js/test/browser.test.mjs
