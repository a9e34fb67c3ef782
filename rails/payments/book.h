#pragma once
// The payments core under both card rails: payment records, their counters (payment ids, RRNs,
// STANs, the outbox sequence), the outbox of network advices, open-exchange markers, merchants
// and their accounts, and the preparation of an online charge of a card. rails/pull and
// rails/push are peers on top of it; neither knows the other.
//
// It runs inside the engine's store transactions: call BeginTransaction() at the start of each,
// Flush() before its commit and Rollback() when it is rolled back. The counters are read once per
// transaction and written once, by Flush.
//
// Records (core/record_kinds.h): kPaymentRecord (the payment), kOutboxRecord (a queued advice),
// kSettleRecord (captured, not yet settled), kCounterRecord, kMerchantRecord, and (through its
// EventLog) kEventRecord: Save writes the events of what changed in the payment. An online exchange
// whose answer is not yet applied is marked on its payment's row (the open column).

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/card.h"
#include "core/store.h"
#include "ledger/ledger.h"
#include "pay/engine.h"
#include "rails/payments/events.h"
#include "rails/payments/payment.h"

namespace pay::payments {

// The accounts of the card rails (docs/ledger-accounts.md).
namespace accounts {
std::string Receivable(std::string_view currency);      // acq/<CUR>/network_receivable
std::string SettlementCash(std::string_view currency);  // acq/<CUR>/settlement
std::string Fees(std::string_view currency);            // acq/<CUR>/fees
std::string FundingBank(std::string_view currency);     // acq/<CUR>/funding_bank
std::string NetworkPayable(std::string_view currency);  // acq/<CUR>/network_payable
std::string MerchantPending(std::string_view merchant);    // m/<id>/pending
std::string MerchantAvailable(std::string_view merchant);  // m/<id>/available
std::string Disbursement(std::string_view merchant);       // m/<id>/disbursement
}  // namespace accounts

// Phase one of an online operation: the payment as recorded, and the request to send (unless
// it was decided locally: a Luhn-invalid or expired card).
struct Prepared {
  Payment payment;
  bool needs_network = false;
  CardRequest request;
};

// A card that is charged (an authorization, an AFT), as validated by its handler: the number as
// entered (it goes to the network and nowhere else), what may be kept of it, and the response
// code of a local decline ("14" bad check digit, "54" expired; empty: ask the network).
struct ChargedCard {
  const CardInput* input = nullptr;
  card::CardRef ref;
  std::string local_decline;
  std::string expiry_field = "expiry";
};

// A payment whose online exchange has been open for at least the grace, with that exchange's
// STAN.
struct OpenExchange {
  Payment payment;
  std::string stan;
};

// The namespace of the ledger refs the card rails derive (Book::Ref): no request may name such a
// ref itself (handlers::CheckCallerRef), so the store need not look them up before writing.
inline constexpr std::string_view kRefPrefix = "pay/";

class Book {
 public:
  Book(store::Store& store, ledger::Ledger& ledger, const Clock& clock);

  void BeginTransaction();
  Result<void> Flush();
  void Rollback() {
    counters_loaded_ = false;
    counters_dirty_ = false;
    events_.Rollback();
  }

  // ---- merchants ----
  // Creates the merchant and the accounts of both rails; the same attributes again: no-op.
  Result<Merchant> CreateMerchant(const CreateMerchantRequest& request);
  Result<std::optional<Merchant>> FindMerchant(std::string_view id);
  Result<std::vector<Merchant>> ListMerchants(std::string_view after_id, size_t limit);

  // ---- payments ----
  // A new payment of `merchant` (which must exist and take `currency`) with its id and RRN.
  Result<Payment> NewPayment(PaymentKind kind, const std::string& merchant,
                             const std::string& currency);
  Result<std::optional<Payment>> Find(std::string_view payment_id);
  // Another merchant's payment is reported like a missing one (no probing across merchants).
  Result<Payment> Load(std::string_view merchant, std::string_view payment_id);
  Result<std::vector<Payment>> List(std::string_view merchant, std::string_view after_id,
                                    size_t limit);
  Result<void> Save(const Payment& payment);
  void Record(Payment& payment, std::string op, int64_t amount, std::string code,
              std::string stan, int64_t entry_id) const;
  // The ledger reference of the payment's next step ("pay/<id>/<step>[/suffix]").
  std::string Ref(const Payment& payment, std::string_view suffix = {}) const;
  Result<std::string> NextStan();
  // Twelve digits; in a partitioned set (SetPartition) the first two name the partition.
  Result<std::string> NextRrn();
  // This book's place in a partitioned set (EngineOptions::partition); 0 of 1 by default.
  void SetPartition(uint32_t partition, uint32_t partitions) {
    partition_ = partition;
    partitions_ = partitions;
    events_.SetPartition(partition);
  }
  // The outbox of events (Save writes a payment's; others emit their own).
  EventLog& events() { return events_; }
  // Captured and not yet settled: the settlement sweep will find it.
  Result<void> MarkSettleable(const Payment& payment);

  // The online charge of a card: declined locally (recorded as `op` with `declined_status`), or
  // pending with its exchange open and the request built (type, RRN, STAN, card). With
  // `own_refs` the charge gets an RRN and STAN of its own (P2P's AFT: funding_rrn and
  // funding_stan); otherwise it takes the payment's.
  Result<Prepared> PrepareCharge(Payment payment, const ChargedCard& card, CardMessageType type,
                                 std::string_view op, PaymentStatus declined_status,
                                 const Claim& claim, bool own_refs = false);

  // ---- the outbox of advices ----
  // A request for a network advice about `payment` (captures, reversals, refunds, inquiries).
  CardRequest AdviceFor(const Payment& payment, CardMessageType type, int64_t amount) const;
  Result<void> Queue(const Payment& payment, CardRequest request);
  Result<void> Dequeue(const Advice& advice);
  // The oldest queued advice of each payment, in queue order, at most `limit`.
  Result<std::vector<Advice>> NextAdvices(size_t limit);
  Result<bool> HasAdvices();

  // ---- open exchanges ----
  // Marked on the payment (saved with it) before a request may leave, cleared when its exchange
  // is resolved: the payment's row carries it, indexed, so it costs no row of its own.
  void MarkOpen(Payment& p) const { p.open_since_ms = clock_.NowMs(); }
  static void ClearOpen(Payment& p) { p.open_since_ms = 0; }
  Result<bool> HasOpenExchanges();
  // Exchanges open for at least `grace_ms` (a crash left them pending: sent or not). Younger
  // ones may belong to another live process and are left alone; marks of exchanges already
  // resolved are cleared.
  // `exchanging`: payments whose exchange this process has on the network (never stale);
  // `orphaned`: payments whose exchange this process gave up on (stale whatever their age).
  Result<std::vector<OpenExchange>> StaleExchanges(int64_t grace_ms,
                                                   const std::unordered_set<std::string>& exchanging,
                                                   const std::unordered_set<std::string>& orphaned);
  // A payment as its record holds it (the body and the open column).
  static Result<Payment> FromRow(const store::RecordRow& row);

  store::Store& store() { return store_; }
  ledger::Ledger& ledger() { return ledger_; }
  const Clock& clock() const { return clock_; }

 private:
  Result<int64_t> NextCounter(int64_t* slot);

  store::Store& store_;
  ledger::Ledger& ledger_;
  const Clock& clock_;
  bool counters_loaded_ = false;
  bool counters_dirty_ = false;
  int64_t payment_seq_ = 0;
  uint32_t partition_ = 0;
  uint32_t partitions_ = 1;
  int64_t stan_seq_ = 0;
  int64_t outbox_seq_ = 0;
  EventLog events_;
};

}  // namespace pay::payments
