#!/usr/bin/env bash
# The PostgreSQL store's job rate against `pgbench -N` on the same durable server, in one run.
#
#   bash benches/pg_vs_pgbench.sh            # SECS=20 ROUNDS=2 CLIENTS=16 SCALE=10
#
# Starts its own PostgreSQL 15 in a temp dir on a free loopback port with durable settings
# (fsync=on, synchronous_commit=on, full_page_writes=on; the rest the server's defaults plus
# shared_buffers=256MB and max_connections=200), then ROUNDS times, alternating:
#   - `pgbench -N -c $CLIENTS -j 2 -T $SECS` (each transaction: UPDATE accounts, SELECT,
#     INSERT history, COMMIT; "simple update"), after a CHECKPOINT;
#   - `cargo bench --bench pg_cycle --features postgres` for $SECS seconds, after a
#     CHECKPOINT: $CLIENTS enqueuers and a dispatcher of concurrency $CLIENTS through
#     `PostgresStore`; a job counts once enqueued, claimed, delivered to a no-op transport and
#     finished, each step committed (see benches/pg_cycle.rs).
# It prints both rates and store / pgbench per round and over all rounds, then stops the
# server and deletes its data. As root the server runs as the `aw_pg` user (created if
# missing), as .ci/postgres.sh does. Needs the binaries in $AW_PG_BIN (default
# /usr/lib/postgresql/15/bin).
set -euo pipefail
bin=${AW_PG_BIN:-/usr/lib/postgresql/15/bin}
secs=${SECS:-20}
rounds=${ROUNDS:-2}
clients=${CLIENTS:-16}
scale=${SCALE:-10}
features=${FEATURES:-postgres}
root=$(cd "$(dirname "$0")/.." && pwd)

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u aw_pg -- "$@"; else "$@"; fi
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

[ -x "$bin/initdb" ] && [ -x "$bin/pgbench" ] \
  || { echo "PostgreSQL 15 binaries (initdb, pgbench) not found in $bin" >&2; exit 1; }

# Build first: compiling must not share the machine with a measurement.
(cd "$root" && cargo bench --bench pg_cycle --features "$features" --no-run) >&2

if [ "$(id -u)" = 0 ] && ! id aw_pg >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin aw_pg
fi
dir=$(mktemp -d /tmp/aw-pgbench.XXXXXX)
cleanup() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown aw_pg "$dir"

port=
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 30000))
  if port_is_free "$p"; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free loopback port found" >&2; exit 1; }

settings="-c fsync=on -c synchronous_commit=on -c full_page_writes=on \
-c shared_buffers=256MB -c max_connections=200"
as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-h 127.0.0.1 -p $port -k $dir $settings" >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

url="postgres://postgres@127.0.0.1:${port}/postgres"
psql() { "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"; }

echo "server: PostgreSQL $(psql -At -c 'SHOW server_version'), port $port, data in $dir"
psql -At -F ' = ' -c "SELECT name, current_setting(name) FROM pg_settings WHERE name IN
  ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'commit_delay',
   'commit_siblings', 'wal_buffers', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout',
   'wal_writer_delay', 'jit') ORDER BY name" | sed 's/^/  /'
echo "pgbench: -i -s $scale, then -N -c $clients -j 2 -T $secs (-M simple, the default)"
echo "store: $clients enqueuers + dispatcher concurrency $clients, $secs s, pool $clients"
"$bin/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$port" -U postgres postgres >"$dir/init.log" 2>&1 \
  || { cat "$dir/init.log" >&2; exit 1; }
echo "load before: $(uptime)"

sum_pg=0
sum_store=0
for round in $(seq 1 "$rounds"); do
  psql -c CHECKPOINT
  tps=$("$bin/pgbench" -N -c "$clients" -j 2 -T "$secs" -h 127.0.0.1 -p "$port" -U postgres \
    postgres 2>"$dir/pgbench.err" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
  [ -n "$tps" ] || { cat "$dir/pgbench.err" >&2; exit 1; }
  psql -c CHECKPOINT
  line=$(cd "$root" && AGENT_WEBHOOKS_PG_URL=$url AW_CYCLE_SECS=$secs AW_CYCLE_WORKERS=$clients \
    cargo bench -q --bench pg_cycle --features "$features" 2>"$dir/cycle.err" \
    | grep '^store_jobs_per_sec=') || { cat "$dir/cycle.err" >&2; exit 1; }
  grep '^pg_cycle:' "$dir/cycle.err" | sed 's/^/  /' || true
  jobs=$(echo "$line" | sed 's/^store_jobs_per_sec=\([0-9.]*\) .*/\1/')
  printf 'round %s: pgbench -N %.0f tps, store %.0f jobs/s, ratio = %.2f  (load %s)\n' \
    "$round" "$tps" "$jobs" "$(echo "$jobs / $tps" | bc -l)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  sum_pg=$(echo "$sum_pg + $tps" | bc -l)
  sum_store=$(echo "$sum_store + $jobs" | bc -l)
done
printf 'all %s rounds: pgbench -N %.0f tps, store %.0f jobs/s, store / pgbench = %.2f (goal >= 1.0)\n' \
  "$rounds" "$(echo "$sum_pg / $rounds" | bc -l)" "$(echo "$sum_store / $rounds" | bc -l)" \
  "$(echo "$sum_store / $sum_pg" | bc -l)"
echo "load after: $(uptime)"
