#pragma once
// The card pull rail: authorize, increment, capture, void, refund, expiry, settlement, and the
// reversal of what the network left in doubt. It runs inside the engine's store transactions
// (the engine owns the pipeline, the transactions and the network exchanges); every method
// either succeeds and writes its ledger entries, payment record and queued advices, or fails
// having written nothing.
//
// Books (docs/ledger-accounts.md): per currency acq/<CUR>/network_receivable (asset),
// acq/<CUR>/settlement (asset: what the network paid), acq/<CUR>/fees (revenue); per merchant
// m/<id>/pending and m/<id>/available (liabilities, no overdraft). An authorization is a hold
// receivable -> merchant pending; a capture posts (part of) it; settlement moves the net to the
// merchant's available balance less the fee.
//
// Network: authorizations and increments are online (Prepare -> the engine exchanges ->
// Complete). Captures, voids, refunds, expiries and the reversals of unanswered exchanges are
// advices: recorded with the books, queued in the outbox, delivered (oldest first, one at a
// time per payment) until acknowledged.

#include <optional>
#include <string>
#include <vector>

#include "core/card.h"
#include "core/store.h"
#include "ledger/ledger.h"
#include "pay/engine.h"
#include "rails/pull/payment.h"

namespace pay::pull {

struct PullOptions {
  int64_t authorization_validity_ms = 7LL * 24 * 3600 * 1000;
};

// Phase one of an online operation: the payment as recorded, and the request to send (unless
// it was decided locally: a Luhn-invalid or expired card).
struct Prepared {
  Payment payment;
  bool needs_network = false;
  CardRequest request;
};

class PullRail {
 public:
  PullRail(store::Store& store, ledger::Ledger& ledger, const Clock& clock, PullOptions options);

  // Call at the start of every store transaction, Flush() before its commit, and Rollback()
  // when it is rolled back. The counters (payment ids, STANs, the outbox) are written once per
  // transaction by Flush.
  void BeginTransaction();
  Result<void> Flush();
  void Rollback() { counters_loaded_ = false; counters_dirty_ = false; }

  Result<Merchant> CreateMerchant(const CreateMerchantRequest& request);

  // `local_decline`: "14" or "54" when the card failed the checks that never reach the network.
  Result<Prepared> Authorize(const std::string& merchant, const AuthorizeRequest& request,
                             const card::CardRef& card, const std::string& local_decline,
                             const Claim& claim);
  Result<Prepared> Increment(const std::string& merchant, const IncrementRequest& request,
                             const Claim& claim);
  // Phase two: the network's answer (or its failure) to a prepared exchange. A failure leaves
  // the payment in doubt with its reversal queued (the claim stays open until it resolves).
  // `stan` names the exchange answered; an answer to an exchange that is no longer open (it was
  // given up and is being reversed) changes nothing.
  Result<Payment> Complete(const std::string& payment_id, const std::string& stan,
                           const Result<CardResponse>& response);

  Result<Payment> Capture(const std::string& merchant, const CaptureRequest& request);
  Result<Payment> Void(const std::string& merchant, const VoidPaymentRequest& request);
  Result<Payment> Refund(const std::string& merchant, const RefundRequest& request);

  // The oldest queued advice of each payment, in queue order, at most `limit`.
  Result<std::vector<Advice>> NextAdvices(size_t limit);
  // An advice was acknowledged: dequeues it. When it resolved a doubt, returns the payment as
  // resolved, with the claim that waited for it (the stored record no longer has it).
  Result<std::optional<Payment>> Acknowledge(const Advice& advice);
  Result<bool> HasAdvices();

  // Authorizations past their validity: hold released, reversal queued. Returns how many.
  Result<size_t> ExpireDue(size_t max);
  // Payments whose online exchange has been open for at least `grace_ms` (a crash left them
  // pending: sent or not), each with the STAN of that exchange; the caller completes each as a
  // timeout with the rail of its kind. Younger ones may belong to another live process and are
  // left alone; markers of exchanges already resolved are removed.
  struct OpenExchange {
    Payment payment;
    std::string stan;
  };
  Result<std::vector<OpenExchange>> StaleExchanges(int64_t grace_ms);
  // Whether any payment has an online exchange open (pending, or in doubt). Cheap.
  Result<bool> HasOpenExchanges();
  // Settles up to `max` payments; adds to `report`. Returns how many.
  Result<size_t> Settle(size_t max, Engine::SettleReport* report);

  Result<std::optional<Payment>> Find(std::string_view payment_id);
  Result<std::vector<Payment>> List(std::string_view merchant, std::string_view after_id,
                                    size_t limit);

  // ---- shared with the push rail (records, counters, the outbox) ----
  // A new payment of `merchant` (which must exist and take `currency`) with its id and RRN.
  Result<Payment> NewPayment(PaymentKind kind, const std::string& merchant,
                             const std::string& currency);
  Result<std::string> NextRrn();
  Result<Payment> Load(std::string_view merchant, std::string_view payment_id);
  Result<void> Save(const Payment& payment);
  // The open-exchange marker of a payment: written before its request may leave, removed when
  // its exchange is resolved.
  Result<void> MarkOpen(const std::string& payment_id);
  Result<void> ClearOpen(const std::string& payment_id);
  Result<std::string> NextStan();
  Result<void> Queue(const Payment& payment, CardRequest request);
  Result<void> Dequeue(const Advice& advice);
  std::string Ref(const Payment& payment, std::string_view suffix = {}) const;
  CardRequest AdviceFor(const Payment& payment, CardMessageType type, int64_t amount) const;
  void Record(Payment& payment, std::string op, int64_t amount, std::string code,
              std::string stan, int64_t entry_id);

 private:
  Result<int64_t> NextCounter(const char* name, int64_t* cache);
  Result<int64_t> Hold(const Payment& payment, int64_t amount, const std::string& ref);

  store::Store& store_;
  ledger::Ledger& ledger_;
  const Clock& clock_;
  PullOptions options_;
  bool counters_loaded_ = false;
  bool counters_dirty_ = false;
  int64_t payment_seq_ = 0;
  int64_t stan_seq_ = 0;
  int64_t outbox_seq_ = 0;
};

}  // namespace pay::pull
