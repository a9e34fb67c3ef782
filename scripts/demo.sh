#!/usr/bin/env bash
# The main job for now: a fresh ledger, a few accounts, money moving through posted entries,
# a hold that is partly posted, a reversal, and a verification of the whole book.
# Usage: scripts/demo.sh PAYMENTCTL DB
set -euo pipefail
ctl=${1:?paymentctl path}
db=${2:?database path}
rm -f "$db" "$db-wal" "$db-shm"
run() {
  echo "\$ paymentctl $*"
  "$ctl" --db "$db" "$@"
  echo
}
run init
run account create bank --currency USD --type asset
run account create alice --currency USD --type liability --no-overdraft
run account create bob --currency USD --type liability --no-overdraft
run account create fees --currency USD --type revenue
run transfer --debit bank --credit alice --amount 250.00 --ref deposit-alice-1 --description "Top-up by card"
run transfer --debit alice --credit bob --amount 40.00 --ref hold-1 --pending --expires-in 7d --description "Marketplace order 1001"
run account show alice
run entry post 2 --amount 35.00
run transfer --debit alice --credit fees --amount 1.25 --ref fee-1001
echo "# A retry with the same reference moves nothing:"
run transfer --debit alice --credit fees --amount 1.25 --ref fee-1001
echo "# An overdraft is refused and nothing is written:"
"$ctl" --db "$db" transfer --debit bob --credit alice --amount 1000.00 --ref too-much || true
echo
run entry reverse 4 --ref refund-fee-1001 --description "Fee waived"
run account history alice
run account list
run ledger verify
