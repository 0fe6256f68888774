#!/usr/bin/env bash
# Installs the servers the users-api example's tests run against (a PostgreSQL server and
# redis-server) when they are missing. Idempotent and quiet: nothing happens when both are
# installed. It never fails its caller: when it cannot install, it says why, and the tests that
# need the servers print SKIP.
set -uo pipefail

have_postgres() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then return 0; fi
  done
  command -v postgres >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1
}
have_redis() { command -v redis-server >/dev/null 2>&1; }

missing=()
have_postgres || missing+=(postgresql)
have_redis || missing+=(redis-server)
[ "${#missing[@]}" -eq 0 ] && exit 0

say() { echo "tests/services.sh: $*"; }
say "installing ${missing[*]} (for the users-api end-to-end tests)"
if ! command -v apt-get >/dev/null 2>&1; then
  say "cannot install ${missing[*]}: no apt-get here; the tests that need them will skip"
  exit 0
fi
run=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
  else
    say "cannot install ${missing[*]}: not root and no passwordless sudo; the tests that need them will skip"
    exit 0
  fi
fi

# Keep the packages from starting their own servers on 5432 and 6379 (the tests start theirs).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  if "${run[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 0755 $policy"; then
    trap '"${run[@]}" rm -f "$policy"' EXIT
  fi
fi

log="$(mktemp)"
if ("${run[@]}" apt-get update -qq \
    && "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") \
    >"$log" 2>&1 && have_postgres && have_redis; then
  say "installed ${missing[*]}"
else
  say "could not install ${missing[*]}; the tests that need them will skip. Last lines of apt-get:"
  tail -n 5 "$log" | sed 's/^/  /'
fi
rm -f "$log"
exit 0
