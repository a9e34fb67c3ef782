#!/usr/bin/env bash
# Durable authorizations per second through HAProxy to 1, 2 and 3 paymentd nodes on PostgreSQL
# (scripts/cluster.sh: a synchronous streaming replica included), side by side in one run with a
# single paymentd on SQLite and with PostgreSQL's own ceiling for the same rows (pgbench,
# tests/bench/pg_ceiling.sql, batched). Also: the replica's lag under the load, and each node
# count's books verified afterwards. docs/performance.md has the figures.
#
#   tests/bench/cluster_bench.sh [--seconds 10] [--connections 64] [--nodes "1 2 3"] [--batch 50]
#
# Needs build/release (paymentctl, http_bench), haproxy and postgresql-15. Everything it starts is
# stopped by cluster.sh down (by PID), also on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=10
connections=64
node_counts="1 2 3"
batch=50
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --nodes) node_counts=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    *) echo "cluster_bench: unknown option $1 (--seconds --connections --nodes --batch)" >&2; exit 2 ;;
  esac
done
export PAYMENTCTL=$root/build/release/cli/paymentctl
bench=$root/build/release/tests/bench/http_bench
cluster=$root/scripts/cluster.sh
pgbench=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)/pgbench
[ -x "$pgbench" ] || pgbench=/usr/lib/postgresql/15/bin/pgbench
work=$(mktemp -d)
chmod 755 "$work"
current=""
cleanup() {
  [ -n "$current" ] && "$cluster" down --dir "$current" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== single paymentd on SQLite (in-process server, the same client)"
"$bench" --seconds "$seconds" --connections "$connections" --dir "$work" | head -1

for n in $node_counts; do
  current=$work/c$n
  "$cluster" up --nodes "$n" --dir "$current" --rate 0 >/dev/null
  . "$current/state"
  echo "== $n node(s) behind HAProxy, PostgreSQL with a synchronous replica"
  lag_max=0
  ( for _ in $(seq $((seconds * 2))); do
      psql -qAt -h "$current/primary" -U pay -d payments -c \
        "SELECT coalesce(pg_current_wal_lsn() - replay_lsn, 0) FROM pg_stat_replication" 2>/dev/null
      sleep 0.5
    done >"$current/lag" ) &
  sampler=$!
  "$bench" --target "$haproxy_port" --api-key "$acme_key" --seconds "$seconds" \
    --connections "$connections" | head -1
  wait "$sampler" || true
  lag_max=$(sort -n "$current/lag" | tail -1)
  echo "   replica lag under load: at most ${lag_max:-0} bytes of WAL behind (sampled every 0.5 s)"
  "$PAYMENTCTL" --db "host=$current/primary user=pay dbname=payments" --issuer-db "$current/issuer.db" \
    --card-key-file "$current/card.key" ledger verify | sed 's/^/   verify: /'
  "$cluster" down --dir "$current" >/dev/null
  current=""
done

echo "== PostgreSQL's ceiling for the same rows (pgbench, batches of $batch, synchronous replica)"
current=$work/pg
"$cluster" up --nodes 1 --dir "$current" >/dev/null
psql -qAt -h "$current/primary" -U pay -d payments -c "CREATE SEQUENCE bench_batches" >/dev/null
for clients in 1 2; do
  tps=$("$pgbench" -n -h "$current/primary" -U pay -d payments -f "$root/tests/bench/pg_ceiling.sql" \
    -D b="$batch" -c "$clients" -j "$clients" -T "$seconds" 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  echo "   $clients connection(s): $tps batches/s = $(awk -v t="$tps" -v b="$batch" 'BEGIN { printf "%.0f", t * b }') authorizations' rows/s"
done
