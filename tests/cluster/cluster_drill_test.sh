#!/usr/bin/env bash
# The cluster drill (docs/scale-out.md), run against scripts/cluster.sh as a reader would use it:
#
#   tests/cluster/cluster_drill_test.sh scripts/cluster.sh PAYMENTCTL     (ctest: cluster_drill)
#
# 1. `up --nodes 3`: PostgreSQL primary + synchronous replica, the network simulator, 3 paymentd
#    nodes, HAProxy. Authorizations through HAProxy, each with its key, all answered.
# 2. The replica serves reads: paymentd's GET right after each POST sees it (read-your-writes)
#    and the nodes' /metrics count reads served by the replica; once it has replayed the
#    primary's WAL, `ledger verify` and `payment show` there see every acknowledged payment.
# 3. A node is killed (SIGKILL): authorizations keep being answered by the others; the node is
#    started again and serves.
# 4. The failover: the primary is stopped at once (as if lost), the replica promoted; the nodes
#    keep running and their connections open again on it (the same PIDs before and after). Every acknowledged payment is there (GET through HAProxy), every key sent again
#    answers the same payment (a replay), new payments go through, and `ledger verify` passes.
# Skipped (exit 77) without haproxy or PostgreSQL's server binaries. Everything it starts is
# stopped by `cluster.sh down` (by PID) on exit, also on failure.
set -euo pipefail

script=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
export PAYMENTCTL=$2
command -v haproxy >/dev/null || { echo "cluster_drill: skipped: haproxy is not installed"; exit 77; }
pgbin=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
[ -x "$pgbin/initdb" ] || [ -x /usr/lib/postgresql/15/bin/initdb ] ||
  { echo "cluster_drill: skipped: no PostgreSQL server binaries"; exit 77; }

work=$(mktemp -d)
dir=$work/cluster
chmod 755 "$work"
cleanup() {
  "$script" down --dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "cluster_drill: FAILED: $*" >&2; exit 1; }

"$script" up --nodes 3 --dir "$dir"
. "$dir/state"
url=http://127.0.0.1:$haproxy_port
ctl_on() { "$PAYMENTCTL" --db "host=$dir/$1 user=pay dbname=payments" --issuer-db "$dir/issuer.db" \
             --card-key-file "$dir/card.key" "${@:2}"; }

declare -A payment_of  # key -> payment id, for every acknowledged authorization
authorize() {  # KEY: one authorization through HAProxy; must be answered 200
  local body code
  body=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $acme_key" -H "Idempotency-Key: $1" \
    -d '{"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"12.34","currency":"USD"}' \
    "$url/v1/payments/authorize")
  code=${body##*$'\n'}
  body=${body%$'\n'*}
  [ "$code" = 200 ] || fail "authorize $1 answered $code: $body"
  payment_of[$1]=$(sed -n 's/.*"payment_id":"\([^"]*\)".*/\1/p' <<<"$body")
}

echo "== 1. authorizations through HAProxy"
for i in $(seq 1 30); do authorize "drill-$i"; done

echo "== 2. paymentd reads from the replica, each GET seeing the POST just answered"
for i in $(seq 1 10); do
  authorize "drill-ryw-$i"
  curl -fs -H "Authorization: Bearer $acme_key" "$url/v1/payments/${payment_of[drill-ryw-$i]}" |
    grep -q '"status":"authorized"' || fail "GET right after POST missed ${payment_of[drill-ryw-$i]}"
done
replica_reads=0
for i in $(seq "$nodes"); do
  p="node${i}_port"
  n=$(curl -fs "http://127.0.0.1:${!p}/metrics" | sed -n 's/^paymentd_reads_total{served_by="replica"} //p')
  replica_reads=$((replica_reads + ${n:-0}))
done
[ "$replica_reads" -gt 0 ] || fail "no read was served by the replica"
echo "   reads served by the replica: $replica_reads"
echo "== 2b. the replica serves the CLI's reads once it has replayed the primary's WAL"
lsn=$(psql -qAt -h "$dir/primary" -U pay -d payments -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 100); do
  caught=$(psql -qAt -h "$dir/replica" -U pay -d payments -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")
  [ "$caught" = t ] && break
  sleep 0.1
done
[ "$caught" = t ] || fail "the replica did not replay up to $lsn"
ctl_on replica ledger verify
ctl_on replica payment show "${payment_of[drill-30]}" | grep -q authorized ||
  fail "the replica does not have ${payment_of[drill-30]}"

echo "== 3. a node killed: the others answer; started again, it serves"
"$script" kill-node 2 --dir "$dir"
for i in $(seq 31 60); do authorize "drill-$i"; done
"$script" start-node 2 --dir "$dir"
. "$dir/state"
curl -fs "http://127.0.0.1:$node2_port/healthz" >/dev/null || fail "node 2 does not answer after its restart"

echo "== 4. failover: the replica promoted; the nodes, still running, reconnect to it"
pids_before=$(grep -o 'node[0-9]*_pid=[0-9]*' "$dir/state" | tail -n "$nodes" | sort)
"$script" failover --dir "$dir"
# A request that meets a node's lost connection is answered 503 (retry with the key); the
# connection opens again on the promoted server for the next. Each node gets a few to find it.
for _ in $(seq 50); do
  ok=0
  for i in $(seq 20); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $acme_key" \
      "$url/v1/payments/${payment_of[drill-1]}")
    [ "$code" = 200 ] && ok=$((ok + 1))
  done
  [ "$ok" = 20 ] && break
  sleep 0.1
done
[ "$ok" = 20 ] || fail "the nodes did not reconnect to the promoted replica"
for key in "${!payment_of[@]}"; do
  id=${payment_of[$key]}
  for _ in $(seq 20); do  # a 503 (a node's connection lost in the failover, opened again): ask again
    shown=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $acme_key" "$url/v1/payments/$id")
    [ "${shown##*$'\n'}" = 503 ] || break
  done
  grep -q '"status":"authorized"' <<<"$shown" || fail "acknowledged payment $id ($key) lost in the failover: $shown"
  for _ in $(seq 20); do  # 503 (a node's lost connection, opened again for the next): resend
    again=$(curl -s -D - -H "Authorization: Bearer $acme_key" -H "Idempotency-Key: $key" \
      -d '{"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"12.34","currency":"USD"}' \
      "$url/v1/payments/authorize")
    grep -q '^HTTP/1.1 50[23]' <<<"$again" || break
  done
  grep -qi '^idempotent-replayed: true' <<<"$again" || fail "key $key executed again after the failover"
  grep -q "\"payment_id\":\"$id\"" <<<"$again" || fail "key $key answers another payment"
done
for i in $(seq 61 70); do authorize "drill-$i"; done
pids_after=$(grep -o 'node[0-9]*_pid=[0-9]*' "$dir/state" | tail -n "$nodes" | sort)
[ "$pids_before" = "$pids_after" ] || fail "the nodes were restarted"
ctl_on replica ledger verify
echo "cluster_drill: ok: ${#payment_of[@]} payments acknowledged, none lost or executed twice across a node kill and a failover"
