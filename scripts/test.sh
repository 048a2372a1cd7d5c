#!/usr/bin/env bash
# The README's test command: install what is missing, then run every test (unit tests and
# behaviour tests against real Consul agents the harness starts). Extra arguments go to
# `deno test` (e.g. a file path or --filter).
# Writes test-results/junit.xml; .ci/run reads the totals from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/_deno.sh
mkdir -p test-results
# Files run two at a time: the harness gives every cluster its own loopback addresses and ports.
export DENO_JOBS=${DENO_JOBS:-2}
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(tests/)
exec "$DENO" test -A --quiet --parallel --reporter=dot --junit-path=test-results/junit.xml "${args[@]}"
