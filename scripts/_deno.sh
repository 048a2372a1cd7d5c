# Sourced by the project's scripts. Sets DENO to the pinned Deno, installing it when missing,
# and FLAGS (via set_permission_flags): the compiled binary's permission flags, from deno.json's
# "powerconsul" permission set, with POWERCONSUL_NET (comma-separated host:port list) added to
# the network allowlist. The launcher, the tests and the compile task all use this one function,
# so the sandbox under test is the sandbox that ships.
# Bash built-ins only on the launcher's path: it runs on every check, and each extra process
# costs milliseconds.
_here=${BASH_SOURCE[0]}
if [[ $_here == */* ]]; then _here=${_here%/*}; else _here=.; fi
[ "${_here:0:1}" = / ] || _here=$PWD/$_here
_here=${_here%/.}
repo=${_here%/scripts}
[ "$repo" != "$_here" ] || repo=$_here/..

if [ -z "${DENO:-}" ]; then
  for DENO in "$repo"/.tools/node_modules/@deno/linux-*/deno; do break; done
  if [ ! -x "$DENO" ]; then
    DENO=$(bash "$repo/scripts/setup.sh" --print-deno | tail -1)
  fi
fi

# The default network allowlist, read from deno.json's permission set (its "net" line).
default_net() {
  local line in_set=0 re='^ *"net": *\[(.*)\],? *$'
  while IFS= read -r line; do
    [[ $line == *'"permissions"'* ]] && in_set=1
    if [ "$in_set" = 1 ] && [[ $line =~ $re ]]; then
      line=${BASH_REMATCH[1]//\"/}
      DEFAULT_NET=${line// /}
      return 0
    fi
  done <"$repo/deno.json"
  echo "cannot read the net allowlist from $repo/deno.json" >&2
  return 1
}

set_permission_flags() {
  default_net || return 1
  local net=$DEFAULT_NET
  if [ -n "${POWERCONSUL_NET:-}" ]; then net="$net,$POWERCONSUL_NET"; fi
  FLAGS=("--config=$repo/deno.json" "-P=powerconsul" "--allow-net=$net")
}

permission_flags() {
  set_permission_flags && printf '%s\n' "${FLAGS[@]}"
}
