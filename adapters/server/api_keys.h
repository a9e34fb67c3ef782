#pragma once
// API keys of paymentd. They belong to the server channel, not to the engine: the channel keeps
// them in the engine's database (record kind 20) through a store connection of its own (SQLite
// in WAL mode allows a second connection on the same file), so the engine's contract knows
// nothing of HTTP credentials.
//
// A key is "pk_<id>_<secret>" (12 + 48 hex digits). Only a SHA-256 of the secret is stored, and
// the secret is shown once, by Create. A merchant key sees and moves only its merchant's
// payments and accounts; an admin key creates merchants and funds them.
//
// Threading: an ApiKeys object may be called from any thread (it serialises its own use of the
// store, which is used by one thread at a time).

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

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
};

class ApiKeys {
 public:
  // `store` and `clock` must outlive this object; nothing else may use `store` meanwhile.
  ApiKeys(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Opens a store connection of its own on the engine's database at `db_path` (which must
  // exist). The returned object owns the connection; `clock` must outlive it.
  static Result<std::unique_ptr<ApiKeys>> Open(const std::string& db_path, const Clock& clock);

  // A new key for `merchant` (which must exist: kUnknownMerchant), or an admin key (`merchant`
  // empty, `admin` true). Returns the presented form; it cannot be recovered later.
  Result<std::string> Create(std::string_view merchant, bool admin);
  // Where merchants are looked up by Create: by default in this store; a partitioned engine
  // keeps them in other databases, so its channel asks the engine (Engine::GetMerchant).
  void SetMerchantLookup(std::function<Result<bool>(std::string_view)> exists) {
    merchant_exists_ = std::move(exists);
  }
  // The key a presented "pk_..." string names, when its secret matches (compared in constant
  // time); empty otherwise. An Error only when the store fails or the record is undecodable.
  Result<std::optional<ApiKey>> Authenticate(std::string_view presented);

 private:
  std::unique_ptr<store::Store> owned_;  // set by Open
  std::function<Result<bool>(std::string_view)> merchant_exists_;
  store::Store& store_;
  const Clock& clock_;
  std::mutex mu_;
};

}  // namespace pay::server
