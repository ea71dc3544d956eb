#!/usr/bin/env bash
# One Node test tier: `run-tier.sh <name> <test files...>`. Fails when a test fails, and also when
# the tier ran no test at all (a renamed file or a broken glob must not pass as green).
set -euo pipefail
name=$1
shift
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "$@"
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -1)
if [ "${passed:-0}" -eq 0 ]; then
    echo "$name tier: no test passed (none ran?)" >&2
    exit 1
fi
echo "$name tier: $passed tests passed"
