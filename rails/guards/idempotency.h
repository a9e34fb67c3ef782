#pragma once
// Idempotency keys (DOMAIN.md, rules 1-9), in one module: key validation, the scope, the
// request fingerprint, and the records (claim, complete, replay, release, recover). The engine
// claims or completes a key in the same store transaction as the command's effects.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/store.h"
#include "pay/engine.h"

namespace pay::ledger {
class Ledger;
}

namespace pay::guards {

// Rule 1: 1-255 printable ASCII characters. kInvalidIdempotencyKey otherwise.
Result<void> ValidateIdempotencyKey(std::string_view key);

// The merchant and credential of a command, when given: 1-64 printable ASCII characters
// without spaces or '/' (the scope is part of derived ledger references).
Result<void> ValidateScope(const Command& command);

// Rule 2: the scope of a key is the merchant, else the API credential, else "default". The
// operation is part of the record's primary key, so the same key on another operation is
// another key.
std::string ScopeOf(const Command& command);

// Rule 4: SHA-256 over a canonical binary encoding of the request (a version tag, the operation,
// then every field in a fixed order with lengths). Channel, client attributes and event time are
// not part of it: the same request from another IP is the same request.
// Card operations: `card_fingerprint` (the keyed HMAC of the PAN; for P2P the sender's, with the
// recipient's as `second_card_fingerprint`) stands for the card, so that no hash of a bare PAN is
// ever stored.
std::string Fingerprint(const Request& request, std::string_view card_fingerprint = {},
                        std::string_view second_card_fingerprint = {});

// ---- the records ------------------------------------------------------------------------------

// The state of a key's record; the numbers are stored.
enum class KeyState : int32_t {
  kInFlight = 1,  // claimed: the outcome is not known yet
  kComplete = 2,  // the outcome is stored, byte for byte
};

// What an in-flight claim waits for, stored in the record's body until it completes: an online
// card operation's payment ("payment:<id>"), or the ledger reference a command writes.
struct Intent {
  enum class Kind { kNone, kPayment, kLedgerRef };
  Kind kind = Kind::kNone;
  std::string value;
  static Intent Payment(std::string payment_id) { return {Kind::kPayment, std::move(payment_id)}; }
  static Intent Of(const store::IdempotencyRow& row);
  std::string Encode() const;
};

// The key of one command: scope, operation, key.
struct KeyRef {
  std::string scope;
  Operation operation = Operation::kTransfer;
  std::string key;
};

// Idempotency records in the store. Runs inside the engine's store transactions.
class Keys {
 public:
  Keys(store::Store& store, int64_t retention_ms) : store_(store), retention_ms_(retention_ms) {}

  // The record of a key, if any: a replayed Outcome when it is complete and `fingerprint`
  // matches; kIdempotencyKeyInFlight or kIdempotencyKeyReused errors otherwise. Empty: the key
  // is free.
  Result<std::optional<Outcome>> Replay(const KeyRef& k, const std::string& fingerprint);
  // Claims the key in flight, waiting on `intent`.
  Result<void> Claim(const KeyRef& k, const std::string& fingerprint, const Intent& intent,
                     int64_t now_ms);
  // Stores the outcome under the key (complete). A decline keeps its code and message.
  Result<void> Complete(const KeyRef& k, const std::string& fingerprint, const Outcome& outcome,
                        int64_t now_ms);
  // Completes an in-flight claim with the outcome it waited for (nothing when it is not in
  // flight any more).
  Result<void> CompleteClaim(const KeyRef& k, const std::string& body, int64_t entry_seq);
  // The payment an in-flight or complete record of an online operation names; empty if none.
  Result<std::optional<std::string>> PaymentOf(const KeyRef& k);
  // Start-up: records left in flight, oldest first, at most `limit`.
  Result<std::vector<store::IdempotencyRow>> InFlight(size_t limit);
  // Resolves records left in flight: a command that wrote its ledger entry is completed with
  // it; the others are released (a retry executes the command once). Claims waiting on a
  // payment are skipped: the payment's recovery completes them.
  struct Recovered {
    size_t completed = 0;
    size_t released = 0;
    size_t skipped = 0;
  };
  Result<Recovered> Recover(ledger::Ledger& ledger, const std::vector<store::IdempotencyRow>& rows);
  // Removes up to `limit` complete records past their retention; returns how many.
  Result<size_t> Purge(int64_t now_ms, size_t limit);

 private:
  store::IdempotencyRow Row(const KeyRef& k, const std::string& fingerprint, KeyState state,
                            int64_t now_ms) const;

  store::Store& store_;
  int64_t retention_ms_;
};

}  // namespace pay::guards
