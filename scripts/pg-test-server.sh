#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: a cluster of its own in DIR (made fresh), listening only
# on a Unix socket in DIR (no TCP port, so nothing to collide with), trust authentication, run
# as an unprivileged user (the `postgres` user when called as root; PostgreSQL refuses root).
#
#   scripts/pg-test-server.sh start DIR   starts it; prints the libpq connection string
#                                         (host=DIR user=pay dbname=pay_test)
#   scripts/pg-test-server.sh stop DIR    stops it (the PID in DIR/data/postmaster.pid) and
#                                         removes DIR
#
# .ci/run starts one and exports PAY_TEST_POSTGRES for the tests; without it the PostgreSQL
# cases of the store tests are skipped, saying so.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: scripts/pg-test-server.sh start|stop DIR" >&2
  exit 2
fi
bin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bin/initdb" ] || bin=/usr/lib/postgresql/15/bin
as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi

case "$cmd" in
  start)
    if [ -e "$dir" ]; then echo "pg-test-server: $dir exists; give a new directory" >&2; exit 2; fi
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U pay -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    "${as_owner[@]}" "$bin/createdb" -h "$dir" -U pay pay_test
    echo "host=$dir user=pay dbname=pay_test"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "pg-test-server: unknown command '$cmd' (start, stop)" >&2
    exit 2
    ;;
esac
