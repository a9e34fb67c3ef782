#!/usr/bin/env bash
# A paymentd cluster on this machine (docs/scale-out.md): a PostgreSQL 15 primary and a streaming
# replica (synchronous by default), the card network simulator over TCP, N paymentd nodes on the
# primary (reading from the replica, with read-your-writes: --replica-db), and HAProxy in front
# of the nodes with /healthz checks. Everything runs as an
# unprivileged user in one directory, on loopback and Unix sockets; ports are chosen per run.
#
#   scripts/cluster.sh up [--nodes 3] [--shards 1] [--dir DIR] [--async] [--rate N]
#                                                             start it; prints the address and keys
#   scripts/cluster.sh ctl ARGS... [--dir DIR]                paymentctl on the cluster's books
#   scripts/cluster.sh status [--dir DIR]                     what runs, by PID
#   scripts/cluster.sh kill-node I [--dir DIR]                SIGKILL node I (1..N)
#   scripts/cluster.sh start-node I [--dir DIR]               start node I again
#   scripts/cluster.sh failover [--dir DIR]                   promote the replica; nodes move to it
#   scripts/cluster.sh down [--dir DIR]                       stop everything it started; remove DIR
#   scripts/cluster.sh haproxy-config PORT HOST:PORT...       print HAProxy's configuration
#
# DIR defaults to /tmp/paymentd-cluster. paymentctl is $PAYMENTCTL or build/release/cli/paymentctl.
# --async: the replica is asynchronous (a failover may lose the last acknowledged commits).
# --rate N: each node's request rate limit per API key (paymentctl serve --rate; 0: none).
# --shards N: the books in N partitions (databases payments0..N-1 on the primary, paymentctl
#   --shard), merchants spread over them; the nodes then read from the primary (a partitioned
#   engine has no replica reads yet). Default 1: one database, payments.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
paymentctl=${PAYMENTCTL:-$root/build/release/cli/paymentctl}
dir=/tmp/paymentd-cluster
nodes=3
shards=1
sync=1
rate=""
cmd=${1:-}
shift || true
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --async) sync=0; shift ;;
    --rate) rate=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

die() { echo "cluster: $*" >&2; exit 1; }
pgbin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$pgbin/initdb" ] || pgbin=/usr/lib/postgresql/15/bin
as_owner=()
[ "$(id -u)" -eq 0 ] && as_owner=(runuser -u postgres --)

# HAProxy in front of the nodes: round robin, a node is out after two failed /healthz checks
# (200 ms apart) and back after two good ones; a request whose connection fails is sent to
# another node (nothing was sent to the dead one, so this cannot run a payment twice; a request
# cut off mid-answer is not retried here: the caller resends it with its Idempotency-Key).
haproxy_config() {
  local port=$1; shift
  cat <<EOF
global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
frontend payments
  bind 127.0.0.1:$port
  default_backend paymentd
backend paymentd
  balance roundrobin
  option httpchk GET /healthz
  default-server inter 200ms fall 2 rise 2
EOF
  local i=1
  for a in "$@"; do echo "  server node$i $a check"; i=$((i + 1)); done
}

# The first line a background process prints (its listening address), within 30 s.
first_line() {
  local file=$1 pid=$2
  for _ in $(seq 300); do
    if [ -s "$file" ] && [ "$(wc -l <"$file")" -ge 1 ]; then head -1 "$file"; return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
port_of() { sed -n 's/.*"listening":"[^"]*:\([0-9]*\)".*/\1/p'; }

state() { echo "$1=$2" >>"$dir/state"; }
running() { ps -o stat= -p "$1" 2>/dev/null | grep -qv Z; }  # a zombie is not running
load_state() { [ -f "$dir/state" ] || die "no cluster in $dir"; . "$dir/state"; }

pg_start() {  # NAME: a server in $dir/NAME listening on the socket directory $dir/NAME
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/$1/data" -l "$dir/$1/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir/$1' -c max_connections=200 $2" \
    start >/dev/null || { cat "$dir/$1/server.log" >&2; die "PostgreSQL $1 did not start"; }
}

common() {  # the paymentctl options of every node and set-up command, in the array `common`
  # Both servers, the one accepting writes chosen (libpq target_session_attrs): after a failover
  # the nodes' connections open again on the promoted replica by themselves.
  local servers="host=$dir/primary,$dir/replica user=pay target_session_attrs=read-write"
  if [ "$shards" -gt 1 ]; then
    common=()
    for k in $(seq 0 $((shards - 1))); do common+=(--shard "$k=$servers dbname=payments$k"); done
  else
    common=(--db "$servers dbname=payments")
  fi
  common+=(--issuer-db "$dir/issuer.db" --card-key-file "$dir/card.key")
}
databases() {  # the books' databases on the primary
  if [ "$shards" -gt 1 ]; then seq -f 'payments%g' 0 $((shards - 1)); else echo payments; fi
}
ctl() { common; "$paymentctl" "${common[@]}" "$@"; }

start_node() {
  local i=$1
  : >"$dir/node$i.out"
  common
  local replica=()  # reads on the replica while there is one (not after a failover)
  [ "$primary_name" = primary ] && [ "$shards" = 1 ] &&
    replica=(--replica-db "host=$dir/replica user=pay dbname=payments")
  "$paymentctl" "${common[@]}" "${replica[@]}" --network "tcp://127.0.0.1:$network_port" --json \
    serve --listen "127.0.0.1:${2:-0}" ${rate:+--rate "$rate"} >"$dir/node$i.out" 2>>"$dir/node$i.log" &
  local pid=$!
  local line
  line=$(first_line "$dir/node$i.out" "$pid") || die "node $i did not start; see $dir/node$i.log"
  echo "$pid $(echo "$line" | port_of)"
}

up() {
  [ -e "$dir" ] && die "$dir exists (scripts/cluster.sh down --dir $dir first)"
  [ -x "$paymentctl" ] || die "no paymentctl at $paymentctl (build first, or set PAYMENTCTL)"
  command -v haproxy >/dev/null || die "haproxy is not installed (apt-get install haproxy)"
  mkdir -p "$dir/primary" "$dir/replica"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/primary" "$dir/replica"
  : >"$dir/state"
  primary_name=primary
  state primary_name primary
  state nodes "$nodes"
  state shards "$shards"
  state rate "$rate"
  echo "cluster: PostgreSQL primary (synchronous replica: $([ $sync = 1 ] && echo yes || echo no))"
  "${as_owner[@]}" "$pgbin/initdb" -D "$dir/primary/data" -U pay -A trust >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  pg_start primary "-c wal_level=replica"
  for db in $(databases); do "${as_owner[@]}" "$pgbin/createdb" -h "$dir/primary" -U pay "$db"; done
  echo "cluster: streaming replica"
  "${as_owner[@]}" pg_basebackup -h "$dir/primary" -U pay -D "$dir/replica/data" -R -X stream -c fast \
    >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; die "pg_basebackup failed"; }
  pg_start replica "-c cluster_name=replica -c hot_standby=on"
  if [ $sync = 1 ]; then  # from now on a commit returns once the replica has it
    "${as_owner[@]}" psql -qAt -h "$dir/primary" -U pay -d postgres \
      -c "ALTER SYSTEM SET synchronous_standby_names = 'replica'" -c "SELECT pg_reload_conf()" >/dev/null
  fi

  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/card.key"
  ctl init >/dev/null
  ctl merchant create acme --currency USD >/dev/null
  admin_key=$(ctl apikey create --admin | head -1)
  acme_key=$(ctl --merchant acme apikey create | head -1)

  echo "cluster: network simulator"
  "$paymentctl" --issuer-db "$dir/issuer.db" --json network-sim --listen 127.0.0.1:0 \
    >"$dir/network.out" 2>>"$dir/network.log" &
  state network_pid $!
  network_port=$(first_line "$dir/network.out" $! | port_of) || die "the network simulator did not start"
  state network_port "$network_port"

  local addrs=()
  for i in $(seq "$nodes"); do
    read -r pid port < <(start_node "$i")
    state "node${i}_pid" "$pid"
    state "node${i}_port" "$port"
    addrs+=("127.0.0.1:$port")
    echo "cluster: paymentd node $i on 127.0.0.1:$port (PID $pid)"
  done

  for _ in $(seq 20); do  # a free port for HAProxy: bind fails on a taken one, then try another
    local port=$((20000 + RANDOM % 40000))
    haproxy_config "$port" "${addrs[@]}" >"$dir/haproxy.cfg"
    haproxy -db -f "$dir/haproxy.cfg" >>"$dir/haproxy.log" 2>&1 &
    local pid=$!
    for _ in $(seq 50); do
      curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
      state haproxy_pid "$pid"
      state haproxy_port "$port"
      break
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  load_state
  [ -n "${haproxy_port:-}" ] || die "HAProxy did not start; see $dir/haproxy.log"
  state admin_key "$admin_key"
  state acme_key "$acme_key"
  cat <<EOF
cluster: up. HAProxy on http://127.0.0.1:$haproxy_port ($nodes nodes behind it)
  primary  host=$dir/primary user=pay dbname=$(databases | paste -sd,)
  replica  host=$dir/replica user=pay (read only)
  books    scripts/cluster.sh ctl --dir $dir ledger verify
  admin key  $admin_key
  acme key   $acme_key
  try:  curl -s -H "Authorization: Bearer $acme_key" -H "Idempotency-Key: order-1" \\
          -d '{"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"10.00","currency":"USD"}' \\
          http://127.0.0.1:$haproxy_port/v1/payments/authorize
  stop: scripts/cluster.sh down --dir $dir
EOF
}

status() {
  load_state
  alive() { running "$1" && echo up || echo down; }
  echo "haproxy  PID $haproxy_pid  http://127.0.0.1:$haproxy_port  $(alive "$haproxy_pid")"
  echo "network  PID $network_pid  127.0.0.1:$network_port  $(alive "$network_pid")"
  for i in $(seq "$nodes"); do
    local p="node${i}_pid" q="node${i}_port"
    echo "node$i    PID ${!p}  127.0.0.1:${!q}  $(alive "${!p}")"
  done
  for s in primary replica; do
    [ -f "$dir/$s/data/postmaster.pid" ] && echo "$s  PID $(head -1 "$dir/$s/data/postmaster.pid")  host=$dir/$s"
  done
  echo "primary is $primary_name"
}

kill_node() {
  load_state
  local p="node${1}_pid"
  [ -n "${!p:-}" ] || die "no node $1"
  kill -KILL "${!p}" 2>/dev/null || true
  for _ in $(seq 100); do running "${!p}" || break; sleep 0.05; done
  echo "cluster: node $1 (PID ${!p}) killed"
}

start_node_again() {
  load_state
  local p="node${1}_pid" q="node${1}_port"
  [ -n "${!q:-}" ] || die "no node $1"
  running "${!p}" && die "node $1 is running (PID ${!p})"
  read -r pid port < <(start_node "$1" "${!q}")  # the port HAProxy knows
  state "node${1}_pid" "$pid"
  echo "cluster: node $1 started again on 127.0.0.1:$port (PID $pid)"
}

# The failover drill: the primary is stopped (as if lost) and the replica promoted. The nodes
# keep running: each lost connection opens again on the server that accepts writes now.
failover() {
  load_state
  [ "$primary_name" = primary ] || die "already failed over"
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/primary/data" -m immediate -w stop >/dev/null
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/replica/data" -w promote >/dev/null
  primary_name=replica
  state primary_name replica
  echo "cluster: the replica is the primary now; the nodes reconnect to it by themselves"
}

down() {
  [ -f "$dir/state" ] || die "no cluster in $dir"
  load_state
  for v in haproxy_pid network_pid $(seq -f 'node%g_pid' "$nodes"); do
    [ -n "${!v:-}" ] && kill -TERM "${!v}" 2>/dev/null || true
  done
  for s in primary replica; do
    if [ -f "$dir/$s/data/postmaster.pid" ]; then
      "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/$s/data" -m fast -w stop >/dev/null || true
    fi
  done
  rm -rf "$dir"
  echo "cluster: down"
}

case "$cmd" in
  up) up ;;
  status) status ;;
  kill-node) kill_node "${args[0]:?node number}" ;;
  start-node) start_node_again "${args[0]:?node number}" ;;
  failover) failover ;;
  down) down ;;
  ctl) load_state; ctl "${args[@]}" ;;
  haproxy-config) haproxy_config "${args[@]}" ;;
  *) echo "usage: scripts/cluster.sh up|status|kill-node I|start-node I|failover|ctl ARGS|down [--nodes N] [--shards N] [--dir DIR] [--async] [--rate N]" >&2; exit 2 ;;
esac
