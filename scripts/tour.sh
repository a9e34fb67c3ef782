#!/usr/bin/env bash
# A tour of paymentctl, command by command: a fresh ledger, a few accounts, money moving through the engine under
# idempotency keys and the shipped velocity rules, a hold that is partly posted, a reversal, and
# a verification of the whole book.
# Usage: scripts/demo.sh PAYMENTCTL DB
set -euo pipefail
ctl=${1:?paymentctl path}
db=${2:?database path}
rm -f "$db" "$db-wal" "$db-shm"
here=$(cd "$(dirname "$0")/.." && pwd)
config="$here/docs/examples/velocity.toml"
run() {
  echo "\$ paymentctl $*"
  "$ctl" --db "$db" --config "$config" --merchant demo-shop "$@"
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
run transfer --debit alice --credit fees --amount 1.25 --key fee-1001
echo "# A retry with the same idempotency key answers the stored result and moves nothing:"
run transfer --debit alice --credit fees --amount 1.25 --key fee-1001
echo "# The same key with another amount is refused:"
run transfer --debit alice --credit fees --amount 1.26 --key fee-1001 || true
echo "# An overdraft is declined (and the decline is stored under its key):"
run transfer --debit bob --credit alice --amount 1000.00 --key too-much || true
run entry reverse 4 --ref refund-fee-1001 --description "Fee waived"
echo "# Velocity counters of the shipped rules (docs/examples/velocity.toml) for this merchant:"
run velocity status --key merchant=demo-shop
run account history alice
run account list
run ledger verify

echo "# Card payments: a merchant, an authorization captured in two parts, a refund, declines,"
echo "# a lost response reversed by the engine, and settlement to the merchant less its fee."
rm -f "$db.issuer" "$db.issuer-wal" "$db.issuer-shm" "$db.card-key"
card() { "$ctl" --db "$db" --config "$config" --merchant acme "$@"; echo; }
echo "\$ paymentctl merchant create acme --currency USD --fee-bps 250 --fee-fixed 0.30"
card merchant create acme --currency USD --fee-bps 250 --fee-fixed 0.30
echo "\$ paymentctl --merchant acme authorize --card 4242424242424242 --expiry 12/30 --cvv 123 --amount 120.00 --currency USD --key order-7"
card authorize --card 4242424242424242 --expiry 12/30 --cvv 123 --amount 120.00 --currency USD --key order-7
echo "\$ paymentctl --merchant acme capture pay_000000000001 --amount 70.00 --key ship-7a"
card capture pay_000000000001 --amount 70.00 --key ship-7a
echo "\$ paymentctl --merchant acme capture pay_000000000001 --amount 30.00 --final --key ship-7b"
card capture pay_000000000001 --amount 30.00 --final --key ship-7b
echo "\$ paymentctl --merchant acme refund pay_000000000001 --amount 15.00 --key return-7"
card refund pay_000000000001 --amount 15.00 --key return-7
echo "\$ paymentctl --merchant acme authorize --card 4000000000000002 ... (do not honor)"
card authorize --card 4000000000000002 --expiry 12/30 --amount 20.00 --currency USD --key order-8
echo "\$ paymentctl --merchant acme authorize --card 4000000000000259 ... (approved, response lost)"
card authorize --card 4000000000000259 --expiry 12/30 --amount 20.00 --currency USD --key order-9
run settle
echo "\$ paymentctl --merchant acme payment list"
card payment list
run account show m/acme/available
run ledger verify
