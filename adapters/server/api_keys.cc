#include "adapters/server/api_keys.h"

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/json_writer.h"
#include "core/record_kinds.h"
#include "core/time_format.h"

namespace pay::server {

namespace {

constexpr size_t kIdHexDigits = 12;
constexpr size_t kSecretHexDigits = 48;
// Version 1: hash, merchant, admin, created_at. Version 2 adds the mode and the expiry (a
// rolled key's). Keys of version 1 are presented as "pk_...".
constexpr uint8_t kRecordVersion1 = 1;
constexpr uint8_t kRecordVersion2 = 2;

struct Presented {
  std::string mode;  // "test", "live", or "" for a first-version "pk_" key
  std::string id;
  std::string secret;
};

// "sk_test_<id>_<secret>", "sk_live_<id>_<secret>" or the first version's "pk_<id>_<secret>".
std::optional<Presented> Parse(std::string_view s) {
  Presented p;
  for (std::string_view prefix : {"sk_test_", "sk_live_", "pk_"}) {
    if (!s.starts_with(prefix)) continue;
    s.remove_prefix(prefix.size());
    p.mode = prefix == "pk_" ? "" : std::string(prefix.substr(3, 4));
    if (s.size() != kIdHexDigits + 1 + kSecretHexDigits || s[kIdHexDigits] != '_') return std::nullopt;
    p.id = std::string(s.substr(0, kIdHexDigits));
    p.secret = std::string(s.substr(kIdHexDigits + 1));
    return p;
  }
  return std::nullopt;
}

struct Stored {
  ApiKey key;
  std::string hash;
};

Result<Stored> Decode(const store::RecordRow& row) {
  Reader r(row.body);
  uint8_t version = 0, admin = 0;
  Stored s;
  s.key.id = row.id;
  if (!r.U8(&version) || (version != kRecordVersion1 && version != kRecordVersion2) ||
      !r.Str(&s.hash, 64) || !r.Str(&s.key.merchant, 256) || !r.U8(&admin) ||
      !r.I64(&s.key.created_at_ms) ||
      (version == kRecordVersion2 && (!r.Str(&s.key.mode, 8) || !r.I64(&s.key.expires_at_ms)))) {
    return MakeError(ErrorCode::kCorruptStore, "store: undecodable api key record");
  }
  s.key.admin = admin != 0;
  return s;
}

std::string Encode(const ApiKey& key, const std::string& hash) {
  Writer w;
  w.U8(key.mode.empty() ? kRecordVersion1 : kRecordVersion2);
  w.Str(hash);
  w.Str(key.merchant);
  w.U8(key.admin ? 1 : 0);
  w.I64(key.created_at_ms);
  if (!key.mode.empty()) {
    w.Str(key.mode);
    w.I64(key.expires_at_ms);
  }
  return w.Take();
}

}  // namespace

std::string ApiKey::prefix() const { return mode.empty() ? "pk_" : "sk_" + mode + "_"; }

std::string ApiKeyJson(const ApiKey& key) {
  JsonWriter w;
  w.BeginObject().Field("id", key.id).Field("prefix", key.prefix());
  w.Field("mode", key.mode.empty() ? std::string("live") : key.mode);
  if (key.admin) w.Key("merchant").Null();
  else w.Field("merchant", key.merchant);
  w.Field("admin", key.admin).Field("created_at", FormatRfc3339Ms(key.created_at_ms));
  if (key.expires_at_ms != 0) w.Field("expires_at", FormatRfc3339Ms(key.expires_at_ms));
  w.EndObject();
  return w.str();
}

std::string NewKeyJson(std::string_view presented, const ApiKey& like, std::string_view replaces,
                       int64_t old_expires_at_ms) {
  JsonWriter w;
  w.BeginObject().Field("api_key", presented);
  if (like.admin) w.Key("merchant").Null();
  else w.Field("merchant", like.merchant);
  w.Field("admin", like.admin).Field("mode", like.mode.empty() ? std::string("live") : like.mode);
  if (!replaces.empty()) {
    w.Field("replaces", replaces).Field("old_expires_at", FormatRfc3339Ms(old_expires_at_ms));
  }
  w.EndObject();
  return w.str();
}

Result<std::unique_ptr<ApiKeys>> ApiKeys::Open(const std::string& db_path, const Clock& clock) {
  store::StoreOptions options;  // durable: a created key is on disk before it is shown
  PAY_ASSIGN_OR_RETURN(auto store, store::OpenStore(db_path, options));
  auto keys = std::make_unique<ApiKeys>(*store, clock);
  keys->owned_ = std::move(store);
  return keys;
}

// One transaction: the keys put (with their hashes) and the key deleted (when not empty).
Result<void> ApiKeys::Write(const std::vector<std::pair<ApiKey, std::string>>& puts,
                            std::string_view delete_id) {
  PAY_TRY(store_.BeginWrite());
  Result<void> r;
  for (const auto& [key, hash] : puts) {
    r = store_.PutRecord({kApiKeyRecord, key.id, key.merchant, 0, Encode(key, hash)});
    if (!r) break;
  }
  if (r && !delete_id.empty()) r = store_.DeleteRecord(kApiKeyRecord, delete_id);
  if (!r) {
    store_.Rollback();
    return r.error();
  }
  PAY_TRY(store_.Commit());  // a failed commit has rolled back
  ++generation_;
  return {};
}

Result<std::string> ApiKeys::Create(std::string_view merchant, bool admin, std::string_view mode) {
  if (admin == !merchant.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "apikey: give a merchant or ask for an admin key, not both");
  }
  if (mode != "test" && mode != "live") {
    return MakeError(ErrorCode::kInvalidArgument, "mode: test or live, not '" + std::string(mode) + "'");
  }
  std::lock_guard lock(mu_);
  if (!admin) {
    bool exists = false;
    if (merchant_exists_) {
      PAY_ASSIGN_OR_RETURN(exists, merchant_exists_(merchant));
    } else {
      PAY_ASSIGN_OR_RETURN(auto m, store_.FindRecord(store::kMerchantRecord, merchant));
      exists = m.has_value();
    }
    if (!exists) {
      return MakeError(ErrorCode::kUnknownMerchant, "merchant: no merchant '" + std::string(merchant) + "'");
    }
  }
  PAY_ASSIGN_OR_RETURN(Minted m, Mint(std::string(merchant), admin, std::string(mode)));
  PAY_TRY(Write({{m.key, m.hash}}, {}));
  return m.presented;
}

Result<ApiKeys::Minted> ApiKeys::Mint(std::string merchant, bool admin, std::string mode) const {
  PAY_ASSIGN_OR_RETURN(std::string id_bytes, RandomBytes(kIdHexDigits / 2));
  PAY_ASSIGN_OR_RETURN(std::string secret_bytes, RandomBytes(kSecretHexDigits / 2));
  Minted m;
  m.key.id = ToHex(id_bytes);
  m.key.merchant = std::move(merchant);
  m.key.admin = admin;
  m.key.created_at_ms = clock_.NowMs();
  m.key.mode = std::move(mode);
  const std::string secret = ToHex(secret_bytes);
  m.hash = DigestBytes(Sha256(secret));
  m.presented = m.key.prefix() + m.key.id + "_" + secret;
  return m;
}

Result<std::optional<ApiKey>> ApiKeys::Authenticate(std::string_view presented) {
  const auto p = Parse(presented);
  if (!p) return std::optional<ApiKey>();
  std::lock_guard lock(mu_);
  auto row = store_.FindRecord(kApiKeyRecord, p->id);
  // A lost database connection (a failover) fails one statement and is opened again for the
  // next: a read may simply ask again, rather than turn the request into a 503.
  if (!row && row.error().code == ErrorCode::kStoreIo) row = store_.FindRecord(kApiKeyRecord, p->id);
  if (!row) return row.error();
  if (!*row) return std::optional<ApiKey>();
  PAY_ASSIGN_OR_RETURN(Stored s, Decode(**row));
  const bool valid = s.key.mode == p->mode &&
                     (s.key.expires_at_ms == 0 || clock_.NowMs() < s.key.expires_at_ms) &&
                     ConstantTimeEqual(s.hash, DigestBytes(Sha256(p->secret)));
  if (!valid) return std::optional<ApiKey>();
  return std::optional<ApiKey>(std::move(s.key));
}

Result<std::vector<ApiKey>> ApiKeys::List(std::string_view merchant, std::string_view after_id,
                                          size_t limit) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kApiKeyRecord, merchant, after_id, limit));
  std::vector<ApiKey> keys;
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Stored s, Decode(row));
    keys.push_back(std::move(s.key));
  }
  return keys;
}

Result<ApiKey> ApiKeys::Find(std::string_view id) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kApiKeyRecord, id));
  if (!row) return MakeError(ErrorCode::kNotFound, "apikey: no API key '" + std::string(id) + "'");
  PAY_ASSIGN_OR_RETURN(Stored s, Decode(*row));
  return std::move(s.key);
}

Result<void> ApiKeys::Revoke(std::string_view id) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kApiKeyRecord, id));
  if (!row) return MakeError(ErrorCode::kNotFound, "apikey: no API key '" + std::string(id) + "'");
  return Write({}, id);
}

Result<ApiKeys::Rolled> ApiKeys::Roll(std::string_view id, int64_t old_valid_for_ms) {
  if (old_valid_for_ms < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "expires_in: must not be negative");
  }
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kApiKeyRecord, id));
  if (!row) return MakeError(ErrorCode::kNotFound, "apikey: no API key '" + std::string(id) + "'");
  PAY_ASSIGN_OR_RETURN(Stored old, Decode(*row));
  if (old.key.expires_at_ms != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "apikey: '" + std::string(id) + "' was rolled already");
  }
  if (old.key.mode.empty() && old_valid_for_ms > 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expires_in: a first-version key (pk_...) cannot keep working after a roll; "
                     "give 0 to replace it at once");
  }
  const std::string mode = old.key.mode.empty() ? "live" : old.key.mode;  // "pk_" keys were live
  PAY_ASSIGN_OR_RETURN(Minted fresh, Mint(old.key.merchant, old.key.admin, mode));
  // The new key and the old one's end in one transaction: the old keeps working for
  // old_valid_for_ms so that its users can move, or is deleted at once.
  Rolled out;
  out.key = fresh.presented;
  out.old_expires_at_ms = clock_.NowMs() + old_valid_for_ms;
  if (old_valid_for_ms == 0) {
    PAY_TRY(Write({{fresh.key, fresh.hash}}, id));
  } else {
    old.key.expires_at_ms = out.old_expires_at_ms;
    PAY_TRY(Write({{fresh.key, fresh.hash}, {old.key, old.hash}}, {}));
  }
  return out;
}

}  // namespace pay::server
