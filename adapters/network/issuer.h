#pragma once
// The issuer simulator: the other side of the card network. It keeps cardholder accounts in its
// own ledger instance (the same ledger library, its own SQLite file), so holds, captures,
// reversals and refunds are real on both sides and conservation can be checked end to end.
//
// Behaviour (docs/network-sim.md lists it for users):
// - A card is known by its PAN's HMAC; on first sight it gets an open-to-buy of 10,000.00 (in
//   the currency's minor units) per currency.
// - Test cards: 4000000000000002 -> 05; 4000000000009995 -> 51; 4000000000000069 -> 54;
//   4000000000000119 -> 96; 4000000000000077 -> 10 (half the amount); 4000000000000341 -> no
//   response; 4000000000000259 -> approved, response lost. Others approve within open-to-buy
//   (51 beyond it). An expired DE 14 -> 54; a CVV of 000 -> 05 (mismatch).
// - Pushes: an AFT (0200, processing code 10) debits the sender's card with the authorization's
//   checks and test cards (a partial approval is refused); an OCT (0200, 26) credits the
//   recipient's card: 4000000000000127 -> 57, 4000000000003220 deferred (credited by
//   ReleaseDeferred), 4000000000000341 no response, 4000000000000259 credited, answer lost. A
//   status inquiry (0600) answers what became of the message named by DE 90 (25: never seen).
// - Every message is applied at most once: a retransmission (same RRN and STAN) gets the stored
//   answer. A reversal (0400) undoes what its original message (DE 90) did, if anything.
//
// Deterministic for a given clock. Handle runs one batch in one issuer transaction. Not
// thread-safe: one caller at a time.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "adapters/network/iso8583.h"
#include "pay/clock.h"
#include "pay/result.h"
#include "pay/types.h"

namespace pay::network {

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // One answer per message, in order; nullopt: the handler does not answer it.
  virtual std::vector<std::optional<iso8583::Message>> Handle(
      std::span<const iso8583::Message> messages) = 0;
};

struct IssuerOptions {
  std::string db_path;
  bool create_if_missing = true;
  bool durable = true;  // synchronous=FULL
  int64_t open_to_buy_major = 10'000;
  const Clock* clock = nullptr;  // must outlive the issuer
  // OCT credits: every one deferred (not fast funds) when set; otherwise only test card
  // 4000000000003220's. A deferred credit posts ReleaseDeferred() after this delay.
  bool deferred_credits = false;
  int64_t deferred_credit_delay_ms = 24LL * 3600 * 1000;
};

// What the issuer holds and moved for one payment (by RRN), for conservation checks.
struct IssuerPaymentView {
  std::string rrn;
  std::string currency;
  int64_t held_minor = 0;
  int64_t captured_minor = 0;
  int64_t refunded_minor = 0;
  int64_t funded_minor = 0;          // AFT: taken from the card, net of reversals
  int64_t credited_minor = 0;        // OCT: credited to the card
  int64_t pending_credit_minor = 0;  // OCT, deferred: to be credited
};

class Issuer : public MessageHandler {
 public:
  static Result<std::unique_ptr<Issuer>> Open(const IssuerOptions& options);
  ~Issuer() override;

  std::vector<std::optional<iso8583::Message>> Handle(
      std::span<const iso8583::Message> messages) override;

  Result<std::optional<IssuerPaymentView>> Payment(const std::string& rrn);
  Result<std::vector<IssuerPaymentView>> Payments();
  Result<ledger::VerifyReport> Verify();
  // Posts the deferred OCT credits that are due (by the clock). Returns how many.
  Result<size_t> ReleaseDeferred();
  // Messages answered, applied and deduplicated since open.
  struct Stats {
    int64_t messages = 0;
    int64_t duplicates = 0;
    int64_t unanswered = 0;
  };
  Stats stats() const;

 private:
  Issuer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pay::network
