#!/usr/bin/env bash
# A private, throwaway PostgreSQL for the tests (Optuna RDB storage, distributed search):
#   scripts/postgres.sh start   start it (or reuse the one already running), print its SQLAlchemy URL
#   scripts/postgres.sh url     print the URL
#   scripts/postgres.sh stop    stop it (fast mode); a no-op when it is not running
# Data dir ${EDGEOPT_PG_DIR:-/tmp/edgeopt-pg} (also holds the unix socket), port ${EDGEOPT_PG_PORT:-55432},
# 127.0.0.1 only, trust auth, database edgeopt_test. As root, the server runs as the `postgres` user
# (initdb refuses root). Without PostgreSQL binaries `start` says why on stderr and exits 3: callers skip.
set -euo pipefail

dir=${EDGEOPT_PG_DIR:-/tmp/edgeopt-pg}
port=${EDGEOPT_PG_PORT:-55432}
db=edgeopt_test
url="postgresql+psycopg2://postgres@127.0.0.1:${port}/${db}"
marker=.edgeopt-test-server  # in the data dir: this script made it, so it may wipe it

find_bin() {  # PATH first, then Debian's versioned dirs (newest first)
    local d
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
        if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

as_pg() {  # run a command as the postgres user when we are root
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {  # our server's process is alive (a zombie, left unreaped by a container's init, is not)
    local pid
    pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" != Z ] &&
        as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

init() {
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$dir"
    fi
    chmod 700 "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >"$dir.initdb.log" 2>&1 || {
        echo "postgres.sh: initdb failed, see $dir.initdb.log" >&2
        exit 1
    }
    rm -f "$dir.initdb.log"
    cat >"$dir/pg_hba.conf" <<'EOF'
# throwaway test server (scripts/postgres.sh): trust on the unix socket and 127.0.0.1 only
local all all              trust
host  all all 127.0.0.1/32 trust
EOF
    cat >>"$dir/postgresql.conf" <<EOF

# scripts/postgres.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
EOF
    touch "$dir/$marker"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$dir/pg_hba.conf" "$dir/postgresql.conf" "$dir/$marker"
    fi
}

start() {
    if running; then
        # Ours, running: make sure it answers (and has the database), then reuse it.
        wait_ready
        create_db
        echo "$url"
        return 0
    fi
    if [ -n "$(ls -A "$dir" 2>/dev/null)" ] && [ ! -f "$dir/$marker" ] && [ ! -f "$dir/PG_VERSION" ]; then
        echo "postgres.sh: $dir is not empty and not a PostgreSQL data dir; refusing to wipe it" >&2
        exit 1
    fi
    if [ ! -f "$dir/PG_VERSION" ] || [ ! -f "$dir/$marker" ]; then
        init  # first run, or a broken / half-made dir
    fi
    rm -f "$dir/postmaster.pid"  # stale after a crash or reboot (the server is not running: checked above)
    if ! as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -o "-p $port" -w -t 30 start >/dev/null 2>&1; then
        # A broken dir (interrupted initdb, other version, corrupt): re-init once and retry.
        echo "postgres.sh: start failed, re-initialising $dir" >&2
        init
        as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -o "-p $port" -w -t 30 start >/dev/null 2>&1 || {
            echo "postgres.sh: could not start PostgreSQL, see $dir/server.log:" >&2
            tail -n 20 "$dir/server.log" >&2 || true
            exit 1
        }
    fi
    wait_ready
    create_db
    echo "$url"
}

wait_ready() {
    local i
    for i in $(seq 1 60); do  # at most ~30 s
        if as_pg "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
            return 0
        fi
        sleep 0.5
    done
    echo "postgres.sh: PostgreSQL on 127.0.0.1:$port did not accept connections within 30 s" >&2
    exit 1
}

create_db() {
    local psql=(as_pg "$bin/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
    if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE $db"
    fi
}

stop() {
    if running; then
        as_pg "$bin/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null
    fi
}

cmd=${1:-}
case "$cmd" in
    url)
        echo "$url"
        ;;
    start)
        bin=$(find_bin) || {
            echo "postgres.sh: PostgreSQL binaries (initdb, pg_ctl, postgres) not found; PostgreSQL tests skip" >&2
            exit 3
        }
        if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
            echo "postgres.sh: running as root and no 'postgres' user to run the server as" >&2
            exit 3
        fi
        start
        ;;
    stop)
        bin=$(find_bin) || exit 0  # nothing can be running without binaries
        stop
        ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
