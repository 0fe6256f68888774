#!/usr/bin/env bash
# Runs the users-api example's PostgreSQL server in the foreground (users.star's `db`).
#
# Creates a template cluster once (superuser $POSTGRES_USER with password $POSTGRES_PASSWORD,
# database $POSTGRES_DB: `app`/`app`/`app` by default) under $OSPECC_PG_DIR (default
# /dev/shm/ospecc-users-api-pg, memory-backed so the copy is cheap, else
# ${TMPDIR:-/tmp}/ospecc-users-api-pg), copies it to the data directory (the first time, or at
# every start with OSPECC_PG_FRESH=1, which users.star sets: each test's lifecycle then starts
# from an empty database, as a new container would; a copy takes a tenth of what initdb does),
# then `exec`s postgres on 127.0.0.1:$PGPORT (default 15433) with its socket in the data
# directory. It execs, so the process the supervisor started
# is postgres itself: a signal to its process group stops the server (SIGTERM is a smart
# shutdown, and the backends in the group exit on it too; SIGINT is a fast shutdown).
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` OS user and
# the server runs as it (through setpriv, which execs in place and keeps the parent-death signal).
set -euo pipefail

PORT="${PGPORT:-15433}"
USER_NAME="${POSTGRES_USER:-app}"
PASSWORD="${POSTGRES_PASSWORD:-app}"
DATABASE="${POSTGRES_DB:-app}"
if [ -z "${OSPECC_PG_DIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  OSPECC_PG_DIR=/dev/shm/ospecc-users-api-pg
fi
BASE="${OSPECC_PG_DIR:-${TMPDIR:-/tmp}/ospecc-users-api-pg}"
# A parallel job of `ospecc run --jobs` (OSPECC_JOB set) sees a /dev/shm of its own: the
# template, made once, is then kept where every job sees it.
TBASE="$BASE"
if [ -n "${OSPECC_JOB:-}" ]; then TBASE="${TMPDIR:-/tmp}/ospecc-users-api-pg"; fi
TEMPLATE="$TBASE/template"
DATA="$BASE/data"

die() { echo "postgres.sh: $*" >&2; exit 1; }

# The newest installed server (Debian puts them under /usr/lib/postgresql/N/bin), or $PG_BIN.
BIN="${PG_BIN:-}"
if [ -z "$BIN" ]; then
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then BIN="$dir"; break; fi
  done
fi
if [ -z "$BIN" ] && command -v postgres >/dev/null 2>&1; then BIN="$(dirname "$(command -v postgres)")"; fi
[ -n "$BIN" ] && [ -x "$BIN/postgres" ] && [ -x "$BIN/initdb" ] \
  || die "no PostgreSQL server found (install the postgresql package, or set PG_BIN)"

# The prefix that runs a command as the cluster's owner.
OWNER=()
mkdir -p "$BASE" "$TBASE"
chmod 0700 "$BASE" "$TBASE"
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root needs a \`postgres\` OS user (the postgresql package creates it)"
  if command -v setpriv >/dev/null 2>&1; then
    OWNER=(setpriv --reuid=postgres --regid=postgres --init-groups --pdeathsig keep --)
  else
    OWNER=(runuser -u postgres --)
  fi
  chown postgres: "$BASE" "$TBASE"
  for dir in "$BASE" "$TBASE"; do
    "${OWNER[@]}" test -w "$dir" \
      || die "$dir is not writable by the postgres user (is a parent directory closed to it?)"
  done
fi

# Jobs starting at once make the template once: the first holds the lock.
exec 9>"$TBASE/template.lock"
flock 9
if [ ! -f "$TEMPLATE/PG_VERSION" ]; then
  # initdb into a scratch directory, then rename: a cluster exists whole or not at all.
  scratch="$TBASE/data.init"
  pwfile="$TBASE/pwfile"
  rm -rf "$scratch"
  (umask 077 && printf '%s\n' "$PASSWORD" >"$pwfile")
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pwfile"; fi
  if ! "${OWNER[@]}" "$BIN/initdb" -D "$scratch" -U "$USER_NAME" --pwfile="$pwfile" \
      --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C >"$TBASE/initdb.log" 2>&1; then
    rm -f "$pwfile"
    cat "$TBASE/initdb.log" >&2
    die "initdb failed (log: $TBASE/initdb.log)"
  fi
  rm -f "$pwfile"
  if [ "$DATABASE" != "postgres" ]; then
    # Single-user mode creates the database without a running server.
    if ! echo "CREATE DATABASE \"$DATABASE\" OWNER \"$USER_NAME\";" \
        | "${OWNER[@]}" "$BIN/postgres" --single -D "$scratch" -j postgres >"$TBASE/createdb.log" 2>&1; then
      cat "$TBASE/createdb.log" >&2
      die "creating the database $DATABASE failed (log: $TBASE/createdb.log)"
    fi
  fi
  mv "$scratch" "$TEMPLATE"
fi
flock -u 9
exec 9>&-

# A fresh copy of the template when asked (or when there is no data yet). The previous server
# on this directory has exited (lifecycles are sequential, and teardown waits for the process
# group); a stale postmaster.pid goes with the old copy.
if [ "${OSPECC_PG_FRESH:-0}" = 1 ] || [ ! -f "$DATA/PG_VERSION" ]; then
  rm -rf "$DATA"
  "${OWNER[@]}" cp -a "$TEMPLATE" "$DATA"
fi

exec "${OWNER[@]}" "$BIN/postgres" -D "$DATA" -p "$PORT" -k "$DATA" -c listen_addresses=127.0.0.1
