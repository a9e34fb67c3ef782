// The engine's reads and sweeps (expiry, settlement, key purge) and the API keys of paymentd.

#include <algorithm>

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/limits.h"
#include "core/record_kinds.h"
#include "rails/engine_impl.h"

namespace pay::engine_internal {

// ---- sweeps and reads -----------------------------------------------------------------------

Result<size_t> EngineImpl::PurgeIdempotencyKeys() {
  std::lock_guard lock(mu_);
  size_t total = 0;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&] {
      return keys_->Purge(clock_->NowMs(), limits::kExpirySweepPerTransactionMax);
    }));
    total += n;
    if (n < limits::kExpirySweepPerTransactionMax) return total;
  }
}

Result<size_t> EngineImpl::ExpirePayments(size_t max) {
  std::lock_guard lock(mu_);
  size_t total = 0;
  while (total < max) {
    const size_t chunk = std::min(max - total, limits::kPaymentSweepPerTransactionMax);
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&] { return pull_->ExpireDue(chunk); }));
    total += n;
    if (n == 0) break;
  }
  if (total > 0) (void)DeliverAdvices(nullptr);
  return total;
}

Result<Engine::SettleReport> EngineImpl::Settle() {
  std::lock_guard lock(mu_);
  SettleReport report;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&] {
      return pull_->Settle(limits::kPaymentSweepPerTransactionMax, &report);
    }));
    if (n < limits::kPaymentSweepPerTransactionMax) return report;
  }
}

Result<PaymentView> EngineImpl::GetPayment(std::string_view payment_id) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(payments::Payment p, book_->Load("", payment_id));
  return payments::ToView(p);
}

Result<Page<PaymentView>> EngineImpl::ListPayments(std::string_view merchant,
                                                   std::string_view after_id, size_t limit) {
  limit = std::min(limit, limits::kListRowsMax);
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto list, book_->List(merchant, after_id, limit));
  Page<PaymentView> page;
  page.items.reserve(list.size());
  for (const auto& p : list) page.items.push_back(payments::ToView(p));
  if (limit > 0 && list.size() == limit) page.next_after = list.back().id;
  return page;
}

Result<Page<Merchant>> EngineImpl::ListMerchants(std::string_view after_id, size_t limit) {
  limit = std::min(limit, limits::kListRowsMax);
  std::lock_guard lock(mu_);
  Page<Merchant> page;
  PAY_ASSIGN_OR_RETURN(page.items, book_->ListMerchants(after_id, limit));
  if (limit > 0 && page.items.size() == limit) page.next_after = page.items.back().id;
  return page;
}

Result<std::string> EngineImpl::PaymentJson(std::string_view payment_id) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(payments::Payment p, book_->Load("", payment_id));
  return payments::PaymentJson(p);
}

Result<std::vector<std::string>> EngineImpl::ListPaymentJson(std::string_view merchant,
                                                             std::string_view after_id,
                                                             size_t limit) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto list, book_->List(merchant, after_id, std::min(limit, limits::kListRowsMax)));
  std::vector<std::string> out;
  out.reserve(list.size());
  for (const auto& p : list) out.push_back(payments::PaymentJson(p));
  return out;
}

Result<std::optional<std::string>> EngineImpl::PaymentIdForKey(std::string_view merchant,
                                                               std::string_view key) {
  std::lock_guard lock(mu_);
  const std::string scope = merchant.empty() ? "default" : std::string(merchant);
  for (Operation op : {Operation::kAuthorize, Operation::kPush, Operation::kP2p, Operation::kFund}) {
    PAY_ASSIGN_OR_RETURN(auto id, keys_->PaymentOf({scope, op, std::string(key)}));
    if (id) return id;
  }
  return std::optional<std::string>();
}

// ---- API keys (paymentd) --------------------------------------------------------------------

Result<std::string> EngineImpl::CreateApiKey(std::string_view merchant, bool admin) {
  std::lock_guard lock(mu_);
  if (admin == !merchant.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "apikey: give a merchant or ask for an admin key, not both");
  }
  if (!admin) {
    PAY_ASSIGN_OR_RETURN(auto m, book_->FindMerchant(merchant));
    if (!m) {
      return MakeError(ErrorCode::kUnknownMerchant, "merchant: no merchant '" + std::string(merchant) + "'");
    }
  }
  PAY_ASSIGN_OR_RETURN(std::string id_bytes, RandomBytes(6));
  PAY_ASSIGN_OR_RETURN(std::string secret_bytes, RandomBytes(24));
  const std::string id = ToHex(id_bytes);
  const std::string secret = ToHex(secret_bytes);
  Writer w;
  w.U8(1);
  w.Str(DigestBytes(Sha256(secret)));
  w.Str(merchant);
  w.U8(admin ? 1 : 0);
  w.I64(clock_->NowMs());
  store::RecordRow row{store::kApiKeyRecord, id, std::string(merchant), 0, w.Take()};
  PAY_TRY(InTransaction([&] { return store_->PutRecord(row); }));
  return "pk_" + id + "_" + secret;
}

Result<std::optional<Engine::ApiKey>> EngineImpl::Authenticate(std::string_view presented) {
  // "pk_" + 12 hex (id) + "_" + 48 hex (secret)
  if (presented.size() != 3 + 12 + 1 + 48 || presented.substr(0, 3) != "pk_" || presented[15] != '_') {
    return std::optional<ApiKey>();
  }
  const std::string id(presented.substr(3, 12));
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto row, store_->FindRecord(store::kApiKeyRecord, id));
  if (!row) return std::optional<ApiKey>();
  Reader r(row->body);
  uint8_t version = 0, admin = 0;
  std::string hash;
  ApiKey key;
  key.id = id;
  if (!r.U8(&version) || version != 1 || !r.Str(&hash, 64) || !r.Str(&key.merchant, 256) ||
      !r.U8(&admin) || !r.I64(&key.created_at_ms)) {
    return MakeError(ErrorCode::kCorruptStore, "store: undecodable api key record");
  }
  key.admin = admin != 0;
  if (!ConstantTimeEqual(hash, DigestBytes(Sha256(presented.substr(16))))) {
    return std::optional<ApiKey>();
  }
  return std::optional<ApiKey>(std::move(key));
}

}  // namespace pay::engine_internal
