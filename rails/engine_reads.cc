// The engine's reads and sweeps (expiry, settlement, key purge).

#include <algorithm>

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
  size_t total = 0;
  {
    std::lock_guard lock(mu_);
    while (total < max) {
      const size_t chunk = std::min(max - total, limits::kPaymentSweepPerTransactionMax);
      PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&] { return pull_->ExpireDue(chunk); }));
      total += n;
      if (n == 0) break;
    }
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

Result<Page<EventView>> EngineImpl::ListEvents(std::string_view merchant, std::string_view after_id,
                                               const EventFilter& filter, size_t limit) {
  limit = std::min(limit, limits::kListRowsMax);
  return WithPaymentReads([&](payments::Book& book) -> Result<Page<EventView>> {
    Page<EventView> page;
    std::string after = payments::EventRowId(after_id);
    size_t read = 0;
    while (limit > 0) {
      const size_t chunk = std::min<size_t>(limits::kListRowsMax - read, 512);
      if (chunk == 0) {  // the read bound: the caller goes on from where this stopped
        page.next_after = "evt_" + after;
        return page;
      }
      PAY_ASSIGN_OR_RETURN(auto rows, book.store().ListRecords(store::kEventRecord, merchant, after, chunk));
      read += rows.size();
      size_t used = 0;
      for (const auto& row : rows) {
        ++used;
        after = row.id;
        PAY_ASSIGN_OR_RETURN(EventView e, payments::DecodeEvent(row));
        if (!filter.Matches(e.type)) continue;
        page.items.push_back(std::move(e));
        if (page.items.size() == limit) break;
      }
      if (page.items.size() == limit) {  // more may follow unless this read saw the last row
        if (used < rows.size() || rows.size() == chunk) page.next_after = page.items.back().id;
        return page;
      }
      if (rows.size() < chunk) return page;  // nothing more
    }
    return page;
  });
}

Result<size_t> EngineImpl::PurgeEvents() {
  std::lock_guard lock(mu_);
  size_t total = 0;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&]() -> Result<size_t> {
      PAY_ASSIGN_OR_RETURN(auto rows, store_->DueRecords(store::kEventRecord, clock_->NowMs(),
                                                         limits::kExpirySweepPerTransactionMax));
      for (const auto& row : rows) PAY_TRY(store_->DeleteRecord(store::kEventRecord, row.id));
      return rows.size();
    }));
    total += n;
    if (n < limits::kExpirySweepPerTransactionMax) return total;
  }
}

Result<PaymentView> EngineImpl::GetPayment(std::string_view payment_id) {
  return WithPaymentReads([&](payments::Book& book) -> Result<PaymentView> {
    PAY_ASSIGN_OR_RETURN(payments::Payment p, book.Load("", payment_id));
    return payments::ToView(p);
  });
}

Result<Page<PaymentView>> EngineImpl::ListPayments(std::string_view merchant,
                                                   std::string_view after_id, size_t limit) {
  limit = std::min(limit, limits::kListRowsMax);
  return WithPaymentReads([&](payments::Book& book) -> Result<Page<PaymentView>> {
    PAY_ASSIGN_OR_RETURN(auto list, book.List(merchant, after_id, limit));
    Page<PaymentView> page;
    page.items.reserve(list.size());
    for (const auto& p : list) page.items.push_back(payments::ToView(p));
    if (limit > 0 && list.size() == limit) page.next_after = list.back().id;
    return page;
  });
}

Result<Page<Merchant>> EngineImpl::ListMerchants(std::string_view after_id, size_t limit) {
  limit = std::min(limit, limits::kListRowsMax);
  return WithPaymentReads([&](payments::Book& book) -> Result<Page<Merchant>> {
    Page<Merchant> page;
    PAY_ASSIGN_OR_RETURN(page.items, book.ListMerchants(after_id, limit));
    if (limit > 0 && page.items.size() == limit) page.next_after = page.items.back().id;
    return page;
  });
}

Result<Merchant> EngineImpl::GetMerchant(std::string_view id) {
  return WithPaymentReads([&](payments::Book& book) -> Result<Merchant> {
    PAY_ASSIGN_OR_RETURN(auto m, book.FindMerchant(id));
    if (!m) return MakeError(ErrorCode::kUnknownMerchant, "merchant: no merchant '" + std::string(id) + "'");
    return std::move(*m);
  });
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

}  // namespace pay::engine_internal
