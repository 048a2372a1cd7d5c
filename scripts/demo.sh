#!/usr/bin/env bash
# The README's demo command: installs what is missing, then runs a two-node failover demo on a
# throwaway Consul cluster on loopback, and removes everything it created.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/_deno.sh
exec "$DENO" run -A --quiet scripts/demo.ts "$@"
