#!/usr/bin/env bash
# `deno task bench`: install what is missing (Deno, Consul, check_procs, GNU time…), then run the
# benchmarks on throwaway loopback agents. Prints one table, writes bench/results.json; the
# README's Performance section comes from `deno run --allow-read bench/readme.ts`.
# Env: BENCH_RUNS, BENCH_FAILOVER_RUNS, BENCH_SECTIONS, BENCH_KEEP_LOGS (see bench/run.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/_deno.sh
exec "$DENO" run -A --quiet bench/run.ts "$@"
