#pragma once
// API keys of paymentd. They belong to the server channel, not to the engine: the channel keeps
// them in the engine's database (record kind 20) through a store connection of its own (SQLite
// in WAL mode allows a second connection on the same file), so the engine's contract knows
// nothing of HTTP credentials.
//
// A key is "sk_test_<id>_<secret>" or "sk_live_<id>_<secret>" (12 + 48 hex digits; keys made
// before modes existed are "pk_<id>_<secret>" and still work). Only a SHA-256 of the secret is
// stored, and the secret is shown once, by Create or Roll. A merchant key sees and moves only
// its merchant's payments and accounts; an admin key creates merchants and funds them. Keys can
// be listed (never their secrets), revoked (the record is deleted: every node's next look-up
// fails), and rolled (a new secret; the old one keeps working until an expiry).
//
// Threading: an ApiKeys object may be called from any thread (it serialises its own use of the
// store, which is used by one thread at a time).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/record_kinds.h"
#include "core/store.h"
#include "pay/clock.h"
#include "pay/result.h"

namespace pay::server {

// The store's record kind of an API key (core/record_kinds.h).
using store::kApiKeyRecord;

struct ApiKey {
  std::string id;
  std::string merchant;  // empty for an admin key
  bool admin = false;
  int64_t created_at_ms = 0;
  std::string mode;           // "test" or "live"; empty for a first-version ("pk_") key
  int64_t expires_at_ms = 0;  // a rolled key's end; 0: none
  std::string prefix() const;  // "sk_test_", "sk_live_" or "pk_"
};

// {"id","prefix","mode","merchant","admin","created_at"[,"expires_at"]}: what a key is, never its
// secret (paymentctl apikey list --json and GET /v1/apikeys).
std::string ApiKeyJson(const ApiKey& key);
// A key just made or rolled, shown once: {"api_key","merchant","admin","mode"[,"replaces",
// "old_expires_at"]}.
std::string NewKeyJson(std::string_view presented, const ApiKey& like, std::string_view replaces = {},
                       int64_t old_expires_at_ms = 0);

class ApiKeys {
 public:
  // `store` and `clock` must outlive this object; nothing else may use `store` meanwhile.
  ApiKeys(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Opens a store connection of its own on the engine's database at `db_path` (which must
  // exist). The returned object owns the connection; `clock` must outlive it.
  static Result<std::unique_ptr<ApiKeys>> Open(const std::string& db_path, const Clock& clock);

  // A new key for `merchant` (which must exist: kUnknownMerchant), or an admin key (`merchant`
  // empty, `admin` true), in `mode` ("test" or "live"). Returns the presented form; it cannot
  // be recovered later.
  Result<std::string> Create(std::string_view merchant, bool admin, std::string_view mode = "test");
  // Where merchants are looked up by Create: by default in this store; a partitioned engine
  // keeps them in other databases, so its channel asks the engine (Engine::GetMerchant).
  void SetMerchantLookup(std::function<Result<bool>(std::string_view)> exists) {
    merchant_exists_ = std::move(exists);
  }
  // The key a presented string names, when its prefix and mode agree, it has not expired and
  // its secret matches (compared in constant time); empty otherwise. An Error only when the
  // store fails or the record is undecodable.
  Result<std::optional<ApiKey>> Authenticate(std::string_view presented);

  // Keys (of `merchant` only, when not empty; admin keys have none) with id > after_id, in id
  // order, at most `limit`.
  Result<std::vector<ApiKey>> List(std::string_view merchant, std::string_view after_id, size_t limit);
  // One key; kNotFound when there is none.
  Result<ApiKey> Find(std::string_view id);
  // Deletes the key: it stops authenticating (kNotFound when there is none).
  Result<void> Revoke(std::string_view id);
  // A new key with the same merchant, role and mode; the old one keeps working for
  // `old_valid_for_ms` (0: it is deleted at once). A key is rolled once.
  struct Rolled {
    std::string key;  // the new key, presented form (shown once)
    int64_t old_expires_at_ms = 0;
  };
  Result<Rolled> Roll(std::string_view id, int64_t old_valid_for_ms);
  // Counts this object's revocations and rolls: a cache of verified keys in the same process
  // drops what it holds when it changes.
  uint64_t generation() const { return generation_.load(); }
  const Clock& clock() const { return clock_; }

 private:
  struct Minted {
    ApiKey key;
    std::string hash;
    std::string presented;
  };
  Result<Minted> Mint(std::string merchant, bool admin, std::string mode) const;
  Result<void> Write(const std::vector<std::pair<ApiKey, std::string>>& puts, std::string_view delete_id);

  std::unique_ptr<store::Store> owned_;  // set by Open
  std::function<Result<bool>(std::string_view)> merchant_exists_;
  store::Store& store_;
  const Clock& clock_;
  std::mutex mu_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace pay::server
