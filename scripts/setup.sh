#!/usr/bin/env bash
# Installs what powerconsul's tests, demo and benchmarks need, only when missing:
#   - Deno (pinned) from the npm package "deno" into .tools/ (git-ignored), unless a
#     deno of that exact version is already on PATH;
#   - Consul from Debian's previous stable suite (bullseye), added with the mirror URI
#     read from this machine's own Debian source and pinned low so nothing else moves;
#   - check_procs (monitoring-plugins-basic), crontab (cron), ps (procps), GNU time
#     (time, for the benchmarks' peak RSS) and iptables (the partition harness's packet filter).
#   - puppet and puppet-module-puppetlabs-stdlib, for the Puppet example's test only: where they
#     cannot be installed, setup says so and goes on, and that test is skipped.
# Idempotent; quiet when everything is present. Prints the deno path on the last line
# when called with --print-deno.
set -euo pipefail

DENO_VERSION=2.9.6
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/.tools"

say() { printf 'setup: %s\n' "$*" >&2; }

find_deno() {
  if command -v deno >/dev/null 2>&1 && deno --version 2>/dev/null | head -1 | grep -q "deno $DENO_VERSION "; then
    command -v deno
    return 0
  fi
  local bin
  for bin in "$tools"/node_modules/@deno/linux-*/deno "$tools/node_modules/.bin/deno"; do
    if [ -x "$bin" ] && "$bin" --version 2>/dev/null | head -1 | grep -q "deno $DENO_VERSION "; then
      echo "$bin"
      return 0
    fi
  done
  return 1
}

ensure_deno() {
  if find_deno >/dev/null; then return 0; fi
  command -v npm >/dev/null 2>&1 || { say "npm is required to install Deno $DENO_VERSION"; exit 1; }
  say "installing Deno $DENO_VERSION from the npm registry into .tools/"
  mkdir -p "$tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" "deno@$DENO_VERSION" >&2
  find_deno >/dev/null || { say "Deno $DENO_VERSION did not install a working binary under .tools/"; exit 1; }
}

apt_updated=0
apt_update() {
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
}

ensure_bullseye_source() {
  local list=/etc/apt/sources.list.d/powerconsul-bullseye.sources
  local pin=/etc/apt/preferences.d/powerconsul-bullseye
  [ -f "$list" ] && [ -f "$pin" ] && return 0
  local uri=""
  local f
  # The machine's own Debian mirror: the first URIs line of a source whose suites are not security.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && $0 !~ /security/ && u != "" {print u; exit}' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { say "cannot find this machine's Debian mirror in /etc/apt/sources.list.d/*.sources"; exit 1; }
  say "adding Debian bullseye (for consul 1.8.7) from this machine's mirror, pinned low"
  cat >"$list" <<SRC
Types: deb
URIs: $uri
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat >"$pin" <<PIN
Package: *
Pin: release n=bullseye
Pin-Priority: 100
PIN
  apt_updated=0
}

ensure_packages() {
  local missing=()
  command -v consul >/dev/null 2>&1 || missing+=(consul)
  [ -x /usr/lib/nagios/plugins/check_procs ] || missing+=(monitoring-plugins-basic)
  command -v crontab >/dev/null 2>&1 || missing+=(cron)
  command -v ps >/dev/null 2>&1 || missing+=(procps)
  [ -x /usr/bin/time ] || missing+=(time) # GNU time: peak RSS in the benchmarks
  command -v iptables-restore >/dev/null 2>&1 || missing+=(iptables) # partition tests
  [ "${#missing[@]}" = 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing ${missing[*]}; run this script as root to install them"
    exit 1
  fi
  case " ${missing[*]} " in *" consul "*) ensure_bullseye_source ;; esac
  apt_update
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

ensure_puppet() {
  local missing=()
  command -v puppet >/dev/null 2>&1 || missing+=(puppet)
  [ -d /usr/share/puppet/modules/stdlib ] || missing+=(puppet-module-puppetlabs-stdlib)
  [ "${#missing[@]}" = 0 ] && return 0
  local skip="the Puppet example's test will be skipped"
  [ "$(id -u)" = 0 ] || { say "missing ${missing[*]} (run as root to install them): $skip"; return 0; }
  apt_update
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    say "could not install ${missing[*]}: $skip"
}

ensure_deno
ensure_packages
ensure_puppet
if [ "${1:-}" = "--print-deno" ]; then find_deno; fi
