#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, on loopback only (no service manager needed).
#
#   tools/postgres.sh start    initdb (once) + start + create the test database; prints the DSN
#   tools/postgres.sh stop     stop the server (the data directory is kept for the next start)
#   tools/postgres.sh status   exit 0 when the server answers
#   tools/postgres.sh dsn      print the DSN the tests use (BEADLINE_TEST_POSTGRES_DSN)
#
# Debian's postgresql package provides the binaries (.ci/run installs it). The server runs as the
# `postgres` user (it refuses root) from a data directory of its own under /tmp, listens on
# 127.0.0.1 only, and trusts connections there: it is for tests, never for data you keep.
# Settings (environment): BEADLINE_PG_DIR (default /tmp/beadline-pg), BEADLINE_PG_PORT
# (default 55432), BEADLINE_PG_DB (default beadline_test).
set -euo pipefail

PG_DIR=${BEADLINE_PG_DIR:-/tmp/beadline-pg}
PG_PORT=${BEADLINE_PG_PORT:-55432}
PG_DB=${BEADLINE_PG_DB:-beadline_test}
DATA=$PG_DIR/data
LOG=$PG_DIR/server.log
DSN="postgresql://postgres@127.0.0.1:${PG_PORT}/${PG_DB}"

die() { echo "tools/postgres.sh: $*" >&2; exit 1; }

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] || die "no PostgreSQL server binaries in /usr/lib/postgresql (apt-get install postgresql)"
    echo "$dir"
}

as_postgres() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        die "run as root or as the postgres user (the server refuses to run as root)"
    fi
}

answers() {
    as_postgres "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres
}

start() {
    local bin
    bin=$(pg_bin)
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
    if [ ! -s "$DATA/PG_VERSION" ]; then
        as_postgres "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
            --no-instructions >/dev/null
    fi
    if ! answers; then
        # -k: the Unix socket lives in the data directory, not /var/run/postgresql (which may
        # be missing on a machine where the Debian cluster never started).
        as_postgres "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $DATA -c fsync=off" >/dev/null \
            || { tail -n 20 "$LOG" >&2; die "the server did not start (log: $LOG)"; }
    fi
    if ! as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
        as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc \
            "CREATE DATABASE $PG_DB" >/dev/null
    fi
    echo "$DSN"
}

stop() {
    local bin
    bin=$(pg_bin)
    if [ -s "$DATA/PG_VERSION" ] && answers; then
        as_postgres "$bin/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) answers ;;
    dsn) echo "$DSN" ;;
    *) die "usage: tools/postgres.sh start|stop|status|dsn" ;;
esac
