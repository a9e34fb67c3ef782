#pragma once
// The push rail (Visa Direct style): prefunding of a merchant's disbursement balance (a ledger
// top-up, or an AFT from a card), disbursements (OCT) out of that balance, and person-to-person
// transfers (an AFT from the sender's card, then an OCT to the recipient's). It stands on the
// payments core (rails/payments: records, counters, the outbox) beside the pull rail and runs
// inside the engine's transactions the same way: Prepare, the engine exchanges, Complete.
//
// Books (docs/ledger-accounts.md): m/<id>/disbursement (liability, no overdraft: the prefunded
// balance), acq/<CUR>/funding_bank (asset: top-ups), acq/<CUR>/network_payable (liability: what
// we owe the network for pushes), acq/<CUR>/network_receivable (AFT proceeds).
//
// An OCT is final once approved: no void, no reversal. An OCT without an answer is never sent
// again: the payment is unknown and a status inquiry (0600) names the original until the network
// says what became of it.

#include <optional>
#include <string>

#include "rails/payments/book.h"

namespace pay::push {

using payments::Payment;
using payments::Prepared;

struct Completion {
  Payment payment;
  // P2P: the AFT was approved; the OCT (prepared with the command) goes out next, with the
  // payment's RRN and STAN.
  bool send_follow_up = false;
};

class PushRail {
 public:
  explicit PushRail(payments::Book& book);

  // A ledger top-up of the merchant's disbursement balance; `ref` is the ledger reference.
  // Answers the JSON body.
  Result<std::string> FundFromBank(const std::string& merchant, const FundRequest& request,
                                   const std::string& ref);
  // An AFT from a card into the disbursement balance.
  Result<Prepared> FundFromCard(const std::string& merchant, const FundRequest& request,
                                const payments::ChargedCard& card, const payments::Claim& claim);
  // Holds the amount on the disbursement balance (overdraft: refused, nothing written), then
  // the OCT.
  Result<Prepared> Push(const std::string& merchant, const PushRequest& request,
                        const card::CardRef& recipient, const payments::Claim& claim);
  // The AFT first; the OCT is the follow-up the engine sends when the AFT is approved.
  Result<Prepared> P2p(const std::string& merchant, const P2pRequest& request,
                       const payments::ChargedCard& sender, const card::CardRef& recipient,
                       const payments::Claim& claim);
  // The OCT of a P2P, sent once its AFT is approved (the recipient's number lives in memory
  // until then: it is never stored).
  static CardRequest P2pDisbursement(const std::string& merchant, const P2pRequest& request);

  // The network's answer (or failure) to the exchange `stan` of a push payment.
  Result<Completion> Complete(const std::string& payment_id, const std::string& stan,
                              const Result<CardResponse>& response);
  // A status inquiry was answered: dequeues it and resolves the unknown OCT. Returns the
  // payment as resolved, with the claim that waited for it.
  Result<std::optional<Payment>> Acknowledge(const payments::Advice& advice,
                                             const CardResponse& response);

 private:
  Result<void> ResolveOct(Payment& p, const std::string& code, bool deferred,
                          const std::string& auth_code, const std::string& op);
  Result<void> ReverseFunding(Payment& p);
  // The hold of the OCT's amount on the prefunded balance (Record, hold_seq and the OCT's STAN).
  Result<void> HoldForOct(Payment& p);

  payments::Book& cards_;
  ledger::Ledger& ledger_;
};

// Business application identifiers accepted for pushes (Visa Direct): AA, BB, BI, BP, CP, FD,
// GD, GP, LO, MD, MP, OG, PD, PP, PS, TU, WT.
bool ValidPurpose(std::string_view code);

}  // namespace pay::push
