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

#include "rails/payments/book.h"

namespace pay::pull {

using payments::Advice;
using payments::Claim;
using payments::Payment;
using payments::PaymentStatus;
using payments::Prepared;

struct PullOptions {
  int64_t authorization_validity_ms = 7LL * 24 * 3600 * 1000;
};

class PullRail {
 public:
  PullRail(payments::Book& book, PullOptions options);

  // `card`: the card as validated (its local decline, if any, is recorded without the network).
  Result<Prepared> Authorize(const std::string& merchant, const AuthorizeRequest& request,
                             const payments::ChargedCard& card, const Claim& claim);
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

  // An advice was acknowledged: dequeues it. When it resolved a doubt, returns the payment as
  // resolved, with the claim that waited for it (the stored record no longer has it).
  Result<std::optional<Payment>> Acknowledge(const Advice& advice);

  // Authorizations past their validity: hold released, reversal queued. Returns how many.
  Result<size_t> ExpireDue(size_t max);
  // Settles up to `max` payments; adds to `report`. Returns how many.
  Result<size_t> Settle(size_t max, Engine::SettleReport* report);

 private:
  Result<int64_t> Hold(const Payment& payment, int64_t amount, const std::string& ref);
  Result<Payment> LoadUnblocked(const std::string& merchant, const std::string& payment_id,
                                std::string_view why);

  payments::Book& book_;
  store::Store& store_;
  ledger::Ledger& ledger_;
  const Clock& clock_;
  PullOptions options_;
};

}  // namespace pay::pull
