#!/usr/bin/env bash
# One Node test tier: `run-tier.sh <name> <test files...>`. Fails when a test fails, and also when
# the tier, or any one of its files, ran no test (a renamed file, a broken glob or a file whose tests
# were all deleted must not pass as green).
set -euo pipefail
name=$1
shift
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "$@"
# node --test reports a file that declares no test as one passing test named after the file itself.
declare -A given=()
for file in "$@"; do given["$(realpath "$file")"]=1; done
while IFS= read -r line; do
    if [[ "$line" =~ ^ok\ [0-9]+\ -\ (.*)$ ]] && [ -n "${given[${BASH_REMATCH[1]}]:-}" ]; then
        echo "$name tier: ${BASH_REMATCH[1]} declares no test" >&2
        exit 1
    fi
done < "$tap"
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -1)
if [ "${passed:-0}" -eq 0 ]; then
    echo "$name tier: no test passed (none ran?)" >&2
    exit 1
fi
echo "$name tier: $passed tests passed"
