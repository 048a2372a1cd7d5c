#!/usr/bin/env bash
# Build the single static binary: dist/powerconsul-<target>, with exactly the permission set
# declared in deno.json ("powerconsul"). POWERCONSUL_NET adds agent addresses to the network
# allowlist (comma-separated host:port), e.g. POWERCONSUL_NET=consul.service.local:8501.
# POWERCONSUL_TARGETS picks targets (default: x86_64 and aarch64 Linux).
#
# `deno compile` needs a runtime stub (denort) for each target, downloaded on first use. Where
# that download is impossible, point DENORT_BIN at a denort binary of the same Deno version
# for the target you build (then only that target is built).
#
# What is compiled is main.ts bundled into one minified module (`deno bundle --minify`,
# .tmp/powerconsul.bundle.js): loading the source's modules one by one cost a check ≈8 ms and
# 4 MiB more than one module (the bench's "check via deno run of main.ts" row against the
# bundled check rows), and minifying saved ≈2 ms of parsing and 1 MiB more.
set -euo pipefail
. "$(dirname "$0")/_deno.sh"
cd "$repo"
targets=${POWERCONSUL_TARGETS:-"x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu"}
explain() {
  echo "compile: cannot get the Deno runtime stub (denort) for $1: download it on a machine with network access, or set DENORT_BIN to a denort $("$DENO" --version | head -1 | cut -d' ' -f2) binary for that target" >&2
}
if [ -n "${DENORT_BIN:-}" ]; then
  if [ ! -f "$DENORT_BIN" ] || [ ! -x "$DENORT_BIN" ]; then
    echo "compile: DENORT_BIN=$DENORT_BIN is not an executable file; it must point to the denort binary (the Deno runtime stub) for the target being built" >&2
    exit 1
  fi
  targets=${POWERCONSUL_TARGETS:-$(uname -m)-unknown-linux-gnu}
fi
set_permission_flags
mkdir -p dist .tmp
bundle=.tmp/powerconsul.bundle.js
"$DENO" bundle -q --minify -o "$bundle" main.ts
for target in $targets; do
  out="dist/powerconsul-$target"
  log=$(mktemp -p "$repo/.tmp" 2>/dev/null || { mkdir -p "$repo/.tmp" && mktemp -p "$repo/.tmp"; })
  if "$DENO" compile -q "${FLAGS[@]}" --target "$target" --output "$out" "$bundle" >"$log" 2>&1; then
    echo "built $out (net: $DEFAULT_NET${POWERCONSUL_NET:+,$POWERCONSUL_NET})"
    rm -f "$log"
  else
    if grep -qiE "denort|download|dl\.deno|fetch|network|dns|connect" "$log"; then
      explain "$target"
    else
      sed 's/^/compile: /' "$log" >&2
    fi
    rm -f "$log"
    exit 1
  fi
done
