#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on 127.0.0.1 for the `postgres` tests, the crash tests and the
# stores bench. Developers and .ci/run use it the same way:
#
#   eval "$(bash .ci/postgres.sh start)"   # starts it, prints `export AGENT_WEBHOOKS_PG_URL=...`
#   cargo test --all-features
#   cargo bench --bench stores --features sqlite,postgres
#   bash .ci/postgres.sh stop              # stops it and deletes its data
#
# The server runs as a non-root user (as root it creates `aw_pg` with useradd if missing), its
# data in $AW_PG_DIR (default /tmp/agent-webhooks-pg), on port $AW_PG_PORT (default 54329).
# Durability is off (fsync, synchronous_commit, full_page_writes): the data is thrown away, and
# the bench compares the store with the write loop on the same server settings.
set -euo pipefail
bin=${AW_PG_BIN:-/usr/lib/postgresql/15/bin}
dir=${AW_PG_DIR:-/tmp/agent-webhooks-pg}
port=${AW_PG_PORT:-54329}
url="postgres://postgres@127.0.0.1:${port}/postgres"

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u aw_pg -- "$@"; else "$@"; fi
}

start() {
  if [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL 15 binaries not found in $bin (apt-get install postgresql-15)" >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ] && ! id aw_pg >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin aw_pg
  fi
  if [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "export AGENT_WEBHOOKS_PG_URL=$url"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown aw_pg "$dir"; fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
    "-h 127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB" \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "export AGENT_WEBHOOKS_PG_URL=$url"
}

stop() {
  if [ -d "$dir/data" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: bash .ci/postgres.sh [start|stop]" >&2; exit 2 ;;
esac
