#!/usr/bin/env bash
# The README's test command: install what is missing, then run every test (unit tests and
# behaviour tests against real Consul agents the harness starts). Extra arguments go to
# `deno test` (e.g. a file path or --filter).
# Only the full run (no arguments) writes test-results/junit.xml, the report .ci/run and the
# README's Reliability table are built from: running one file leaves the last full report alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/_deno.sh
# Files run two at a time: the harness gives every cluster its own loopback addresses and ports.
export DENO_JOBS=${DENO_JOBS:-2}
if [ "$#" -eq 0 ]; then
  mkdir -p test-results
  export POWERCONSUL_FULL_RUN=1
  exec "$DENO" test -A --quiet --parallel --reporter=dot --junit-path=test-results/junit.xml tests/
fi
unset POWERCONSUL_FULL_RUN
exec "$DENO" test -A --quiet --parallel --reporter=dot "$@"
