#!/bin/sh
# What the tests rely on from the official postgres image's entrypoint, for a test image built
# from the host's PostgreSQL: on an empty $PGDATA, initdb with POSTGRES_USER (default postgres)
# and POSTGRES_PASSWORD, pg_hba by POSTGRES_HOST_AUTH_METHOD (trust, or scram-sha-256 with a
# password), listen on every address, create POSTGRES_DB (default: the user's name); then exec
# the server. A password or trust is required, as in the official image. initdb runs with
# --no-sync: a test database need not survive a power cut, and it starts in a third of the time.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    method="${POSTGRES_HOST_AUTH_METHOD:-}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
        echo "Error: Database is uninitialized and superuser password is not specified." >&2
        echo "       Set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust." >&2
        exit 1
    fi
    [ -n "$method" ] || method=scram-sha-256
    pwfile="/tmp/.pgpass.$$"
    umask 077
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$method" --locale=C --encoding=UTF8 --no-sync \
            ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
    else
        initdb --username="$user" --auth-local=trust --auth-host="$method" --locale=C --encoding=UTF8 --no-sync \
            ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
    fi
    rm -f "$pwfile"
    umask 022
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \"$db\"" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
