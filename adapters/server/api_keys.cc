#include "adapters/server/api_keys.h"

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/record_kinds.h"

namespace pay::server {

namespace {

constexpr size_t kIdHexDigits = 12;
constexpr size_t kSecretHexDigits = 48;
constexpr uint8_t kRecordVersion = 1;

}  // namespace

Result<std::unique_ptr<ApiKeys>> ApiKeys::Open(const std::string& db_path, const Clock& clock) {
  store::StoreOptions options;  // durable: a created key is on disk before it is shown
  PAY_ASSIGN_OR_RETURN(auto store, store::OpenStore(db_path, options));
  auto keys = std::make_unique<ApiKeys>(*store, clock);
  keys->owned_ = std::move(store);
  return keys;
}

Result<std::string> ApiKeys::Create(std::string_view merchant, bool admin) {
  if (admin == !merchant.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "apikey: give a merchant or ask for an admin key, not both");
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
  PAY_ASSIGN_OR_RETURN(std::string id_bytes, RandomBytes(kIdHexDigits / 2));
  PAY_ASSIGN_OR_RETURN(std::string secret_bytes, RandomBytes(kSecretHexDigits / 2));
  const std::string id = ToHex(id_bytes);
  const std::string secret = ToHex(secret_bytes);
  // The record, byte for byte as the engine wrote it before keys moved here.
  Writer w;
  w.U8(kRecordVersion);
  w.Str(DigestBytes(Sha256(secret)));
  w.Str(merchant);
  w.U8(admin ? 1 : 0);
  w.I64(clock_.NowMs());
  PAY_TRY(store_.BeginWrite());
  if (auto p = store_.PutRecord({kApiKeyRecord, id, std::string(merchant), 0, w.Take()}); !p) {
    store_.Rollback();
    return p.error();
  }
  PAY_TRY(store_.Commit());  // a failed commit has rolled back
  return "pk_" + id + "_" + secret;
}

Result<std::optional<ApiKey>> ApiKeys::Authenticate(std::string_view presented) {
  constexpr size_t kIdAt = 3, kSecretAt = kIdAt + kIdHexDigits + 1;
  if (presented.size() != kSecretAt + kSecretHexDigits || presented.substr(0, kIdAt) != "pk_" ||
      presented[kSecretAt - 1] != '_') {
    return std::optional<ApiKey>();
  }
  const std::string id(presented.substr(kIdAt, kIdHexDigits));
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kApiKeyRecord, id));
  if (!row) return std::optional<ApiKey>();
  Reader r(row->body);
  uint8_t version = 0, admin = 0;
  std::string hash;
  ApiKey key;
  key.id = id;
  if (!r.U8(&version) || version != kRecordVersion || !r.Str(&hash, 64) ||
      !r.Str(&key.merchant, 256) || !r.U8(&admin) || !r.I64(&key.created_at_ms)) {
    return MakeError(ErrorCode::kCorruptStore, "store: undecodable api key record");
  }
  key.admin = admin != 0;
  if (!ConstantTimeEqual(hash, DigestBytes(Sha256(presented.substr(kSecretAt))))) {
    return std::optional<ApiKey>();
  }
  return std::optional<ApiKey>(std::move(key));
}

}  // namespace pay::server
