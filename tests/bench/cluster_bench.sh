#!/usr/bin/env bash
# Durable authorizations per second through HAProxy to 1, 2 and 3 paymentd nodes on PostgreSQL
# (scripts/cluster.sh: a synchronous streaming replica included), side by side in one run with a
# single paymentd on SQLite and with PostgreSQL's own ceiling for the same rows (pgbench,
# tests/bench/pg_ceiling.sql, batched). Also: the replica's lag under the load, and each node
# count's books verified afterwards. docs/performance.md has the figures.
#
#   tests/bench/cluster_bench.sh [--seconds 10] [--connections 64] [--nodes "1 2 3"] [--batch 50]
#                                [--partitions "2"] [--merchants 8]
#
# --partitions: after the node counts, the largest node count again on that many partitions
# (scripts/cluster.sh --shards), with the load spread over --merchants merchants ("" for none).
#
# Needs build/release (paymentctl, http_bench), haproxy and postgresql-15. Everything it starts is
# stopped by cluster.sh down (by PID), also on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=10
connections=64
node_counts="1 2 3"
batch=50
partitions="2"
merchants=8
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --nodes) node_counts=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --merchants) merchants=$2; shift 2 ;;
    *) echo "cluster_bench: unknown option $1 (--seconds --connections --nodes --batch --partitions --merchants)" >&2; exit 2 ;;
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

# One configuration: NODES paymentd nodes on SHARDS partitions, load from MERCHANTS merchants
# (each client connection sends for one of them).
run() {
  local n=$1 shards=$2 merchants=$3
  current=$work/c$n-$shards
  "$cluster" up --nodes "$n" --shards "$shards" --dir "$current" --rate 0 >/dev/null
  . "$current/state"
  local keys=(--api-key "$acme_key")
  for i in $(seq 2 "$merchants"); do
    "$cluster" ctl --dir "$current" merchant create "shop$i" --currency USD >/dev/null
    keys+=(--api-key "$("$cluster" ctl --dir "$current" --merchant "shop$i" apikey create | head -1)")
  done
  echo "== $n node(s) behind HAProxy, $shards partition(s), $merchants merchant(s), PostgreSQL with a synchronous replica"
  ( for _ in $(seq $((seconds * 2))); do
      psql -qAt -h "$current/primary" -U pay -d postgres -c \
        "SELECT coalesce(pg_current_wal_lsn() - replay_lsn, 0) FROM pg_stat_replication" 2>/dev/null
      sleep 0.5
    done >"$current/lag" ) &
  local sampler=$!
  "$bench" --target "$haproxy_port" "${keys[@]}" --seconds "$seconds" --connections "$connections" | head -1
  wait "$sampler" || true
  echo "   replica lag under load: at most $(sort -n "$current/lag" | tail -1) bytes of WAL behind (sampled every 0.5 s)"
  "$cluster" ctl --dir "$current" ledger verify | sed 's/^/   verify: /'
  "$cluster" down --dir "$current" >/dev/null
  current=""
}

for n in $node_counts; do run "$n" 1 1; done
for p in $partitions; do run "${node_counts##* }" "$p" "$merchants"; done

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
