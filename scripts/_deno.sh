# Sourced by the project's scripts. Sets DENO to the pinned Deno, installing it when missing,
# and provides permission_flags: the compiled binary's permission flags, from deno.json's
# "powerconsul" permission set, with POWERCONSUL_NET (comma-separated host:port list) added to
# the network allowlist. The launcher, the tests and the compile task all use this one function,
# so the sandbox under test is the sandbox that ships.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

deno_path() {
  local bin
  for bin in "$repo"/.tools/node_modules/@deno/linux-*/deno; do
    [ -x "$bin" ] && { echo "$bin"; return 0; }
  done
  bash "$repo/scripts/setup.sh" --print-deno | tail -1
}

DENO=${DENO:-$(deno_path)}

# The default network allowlist, read from deno.json's permission set (its "net" line).
default_net() {
  sed -n '/"permissions"/,/"compilerOptions"/ s/^ *"net": *\[\(.*\)\],\{0,1\} *$/\1/p' "$repo/deno.json" |
    tr -d ' "' | head -1
}

permission_flags() {
  local net
  net=$(default_net)
  [ -n "$net" ] || { echo "cannot read the net allowlist from $repo/deno.json" >&2; return 1; }
  if [ -n "${POWERCONSUL_NET:-}" ]; then net="$net,$POWERCONSUL_NET"; fi
  printf '%s\n' "--config=$repo/deno.json" "-P=powerconsul" "--allow-net=$net"
}
