#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the metadata tests, unless one is already running,
# and prints its URL (the only thing written to stdout):
#   BERTH_TEST_POSTGRES_URL=$(bash scripts/services/postgres.sh)
# The cluster lives under target/services/postgres, listens on 127.0.0.1:55432 only (and a unix
# socket in that directory), trusts every local connection and sorts in the C locale, so that
# nothing the tests see depends on the machine's locale. A second run reuses the running server.
set -euo pipefail

PORT=55432
DATABASE=berth_test
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE="$ROOT_DIR/target/services/postgres"
DATA="$BASE/data"
LOG="$BASE/postgres.log"

log() { echo "postgres.sh: $*" >&2; }

# The server binaries of the newest installed major version, installing them when absent.
find_bin() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z "$initdb" ]]; then
        log "no PostgreSQL server found; installing the Debian package postgresql"
        if [[ $EUID -ne 0 ]]; then
            log "installing needs root: run apt-get install -y postgresql"
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update >&2
        apt-get install -y postgresql >&2
        initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
        [[ -n "$initdb" ]] || { log "initdb still missing after installing postgresql"; exit 1; }
    fi
    dirname "$initdb"
}

BIN=$(find_bin)

# The server refuses to run as root: as root, run it (and everything touching its files) as the
# postgres user; as anyone else, as that user.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres; }

if ready; then
    log "reusing the server already listening on 127.0.0.1:$PORT"
else
    mkdir -p "$BASE"
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
        chown postgres: "$BASE"
        # The server must reach its data directory: every parent must be traversable.
        dir="$BASE"
        while [[ "$dir" != "/" ]]; do
            dir=$(dirname "$dir")
            if ! runuser -u postgres -- test -x "$dir"; then
                chmod o+x "$dir"
            fi
        done
    fi
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "creating a cluster in $DATA"
        as_pg "$BIN/initdb" -D "$DATA" --username=postgres --auth=trust --encoding=UTF8 \
            --locale=C >&2
    fi
    log "starting the server (log: $LOG)"
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $BASE -c max_connections=200 -c fsync=off" \
        start >&2
    for _ in $(seq 1 60); do
        ready && break
        sleep 0.5
    done
    ready || { log "the server did not become ready; see $LOG"; exit 1; }
fi

psql_pg() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -tA "$@"; }
if [[ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]]; then
    psql_pg -c "CREATE DATABASE $DATABASE" >&2
fi

echo "postgres://postgres@127.0.0.1:$PORT/$DATABASE"
