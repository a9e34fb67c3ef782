#include "rails/push/push_rail.h"

#include <array>

#include "core/json_writer.h"

namespace pay::push {

namespace {

using ledger::Side;

using namespace payments::accounts;
using payments::PaymentKind;
using payments::PaymentStatus;

constexpr std::array<std::string_view, 17> kPurposes = {
    "AA", "BB", "BI", "BP", "CP", "FD", "GD", "GP", "LO",
    "MD", "MP", "OG", "PD", "PP", "PS", "TU", "WT"};

bool Approved(const Result<CardResponse>& r) { return r && r->response_code == "00"; }

}  // namespace

bool ValidPurpose(std::string_view code) {
  for (std::string_view p : kPurposes) {
    if (p == code) return true;
  }
  return false;
}

PushRail::PushRail(payments::Book& book) : cards_(book), ledger_(book.ledger()) {}

Result<std::string> PushRail::FundFromBank(const std::string& merchant, const FundRequest& r,
                                           const std::string& ref) {
  // The merchant must exist and take the currency (NewPayment checks; no payment is kept).
  // The merchant must exist and take the currency. (NewPayment checks both, and so consumes a
  // payment id that no payment uses: kept, because payment ids are part of replayed results.)
  PAY_ASSIGN_OR_RETURN(Payment probe, cards_.NewPayment(PaymentKind::kFunding, merchant, r.currency));
  (void)probe;
  ledger::EntrySpec top_up;
  top_up.ref = ref;
  top_up.description = "prefunding of " + merchant;
  top_up.postings = {{FundingBank(r.currency), Side::kDebit, r.amount_minor},
                     {Disbursement(merchant), Side::kCredit, r.amount_minor}};
  PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(top_up));
  PAY_ASSIGN_OR_RETURN(ledger::Account balance, ledger_.GetAccount(Disbursement(merchant)));
  JsonWriter w;
  w.BeginObject();
  w.Field("merchant", merchant).Field("funded_minor", r.amount_minor).Field("currency", r.currency);
  w.Field("source", "bank").Field("entry_id", e.seq);
  w.Field("disbursement_balance_minor", balance.balance_minor());
  w.EndObject();
  return w.str();
}

Result<Prepared> PushRail::FundFromCard(const std::string& merchant, const FundRequest& r,
                                        const payments::ChargedCard& card,
                                        const payments::Claim& claim) {
  PAY_ASSIGN_OR_RETURN(Payment p, cards_.NewPayment(PaymentKind::kFunding, merchant, r.currency));
  p.card_fingerprint = card.ref.fingerprint;
  p.card_bin = card.ref.bin;
  p.card_last4 = card.ref.last4;
  p.amount_minor = r.amount_minor;
  p.purpose = "FD";
  PAY_ASSIGN_OR_RETURN(Prepared out, cards_.PrepareCharge(std::move(p), card, CardMessageType::kFunding,
                                                          "fund", PaymentStatus::kDeclined, claim));
  out.request.purpose = out.payment.purpose;
  return out;
}

Result<Prepared> PushRail::Push(const std::string& merchant, const PushRequest& r,
                                const card::CardRef& recipient, const payments::Claim& claim) {
  Prepared out;
  PAY_ASSIGN_OR_RETURN(out.payment, cards_.NewPayment(PaymentKind::kPush, merchant, r.currency));
  Payment& p = out.payment;
  p.card_fingerprint = recipient.fingerprint;
  p.card_bin = recipient.bin;
  p.card_last4 = recipient.last4;
  p.amount_minor = r.amount_minor;
  p.purpose = r.purpose;
  p.sender_name = r.sender_name;
  p.sender_reference = r.sender_reference;
  p.recipient_name = r.recipient_name;
  p.Note(r.notes);
  // The hold on the prefunded balance first: without the funds nothing else is written.
  PAY_TRY(HoldForOct(p));
  p.status = PaymentStatus::kSubmitted;
  p.claim = claim;
  cards_.MarkOpen(p);
  PAY_TRY(cards_.Save(p));
  out.needs_network = true;
  CardRequest& q = out.request;
  q = cards_.AdviceFor(p, CardMessageType::kDisbursement, r.amount_minor);
  q.stan = p.stan;
  q.original_stan.clear();
  q.pan = r.recipient_card.pan;
  q.purpose = r.purpose;
  q.sender_name = r.sender_name;
  q.sender_reference = r.sender_reference;
  q.recipient_name = r.recipient_name;
  return out;
}

Result<Prepared> PushRail::P2p(const std::string& merchant, const P2pRequest& r,
                               const payments::ChargedCard& sender, const card::CardRef& recipient,
                               const payments::Claim& claim) {
  PAY_ASSIGN_OR_RETURN(Payment p, cards_.NewPayment(PaymentKind::kP2p, merchant, r.currency));
  p.card_fingerprint = recipient.fingerprint;
  p.card_bin = recipient.bin;
  p.card_last4 = recipient.last4;
  p.sender_fingerprint = sender.ref.fingerprint;
  p.sender_bin = sender.ref.bin;
  p.sender_last4 = sender.ref.last4;
  p.amount_minor = r.amount_minor;
  p.purpose = "PP";
  p.Note(r.notes);
  p.sender_name = r.sender_name;
  p.recipient_name = r.recipient_name;
  PAY_ASSIGN_OR_RETURN(Prepared out,
                       cards_.PrepareCharge(std::move(p), sender, CardMessageType::kFunding, "fund",
                                            PaymentStatus::kFundingDeclined, claim,
                                            /*own_refs=*/true));
  out.request.purpose = out.payment.purpose;
  out.request.sender_name = r.sender_name;
  out.request.recipient_name = r.recipient_name;
  return out;
}

CardRequest PushRail::P2pDisbursement(const std::string& merchant, const P2pRequest& r) {
  CardRequest oct;
  oct.type = CardMessageType::kDisbursement;
  oct.pan = r.recipient_card.pan;
  oct.amount_minor = r.amount_minor;
  oct.currency = r.currency;
  oct.merchant_id = merchant;
  oct.purpose = "PP";
  oct.sender_name = r.sender_name;
  oct.recipient_name = r.recipient_name;
  return oct;
}

Result<void> PushRail::HoldForOct(Payment& p) {
  ledger::EntrySpec hold;
  hold.ref = cards_.Ref(p);
  hold.pending = true;
  hold.description = "disbursement " + p.id;
  hold.postings = {{Disbursement(p.merchant), Side::kDebit, p.amount_minor},
                   {NetworkPayable(p.currency), Side::kCredit, p.amount_minor}};
  PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(hold));
  cards_.Record(p, "hold", p.amount_minor, "", "", e.seq);
  p.hold_seq = e.seq;
  PAY_ASSIGN_OR_RETURN(p.stan, cards_.NextStan());
  return {};
}

Result<void> PushRail::ReverseFunding(Payment& p) {
  if (p.funded_minor == 0) return {};
  // The sender gets back what the AFT took: out of the balance it funded, and a 0400 to the
  // sender's issuer.
  ledger::EntrySpec back;
  back.ref = cards_.Ref(p, "unfund");
  back.description = "funding reversed " + p.id;
  back.postings = {{Disbursement(p.merchant), Side::kDebit, p.funded_minor},
                   {Receivable(p.currency), Side::kCredit, p.funded_minor}};
  PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(back));
  CardRequest reversal = cards_.AdviceFor(p, CardMessageType::kReversal, p.funded_minor);
  reversal.rrn = p.funding_rrn;
  reversal.original_stan = p.funding_stan;
  PAY_ASSIGN_OR_RETURN(reversal.stan, cards_.NextStan());
  PAY_TRY(cards_.Queue(p, reversal));
  cards_.Record(p, "funding_reversal", p.funded_minor, "", reversal.stan, e.seq);
  p.funded_minor = 0;
  return {};
}

// The OCT's outcome, from its answer or from a status inquiry: approved posts the hold (final),
// anything else releases it (and, for P2P, gives the sender the AFT back).
Result<void> PushRail::ResolveOct(Payment& p, const std::string& code, bool deferred,
                                  const std::string& auth_code, const std::string& op) {
  const std::string ref = cards_.Ref(p);
  if (code == "00") {
    PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.PostPending(p.hold_seq, std::nullopt, ref));
    cards_.Record(p, op, p.amount_minor, code, p.stan, e.seq);
    p.status = deferred ? PaymentStatus::kPendingCredit : PaymentStatus::kCompleted;
    p.auth_code = auth_code;
  } else {
    PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.VoidPending(p.hold_seq, ref));
    cards_.Record(p, op, p.amount_minor, code, p.stan, e.seq);
    p.status = PaymentStatus::kDeclined;
    PAY_TRY(ReverseFunding(p));
  }
  p.hold_seq = 0;
  p.response_code = code;
  return {};
}

Result<Completion> PushRail::Complete(const std::string& payment_id, const std::string& stan,
                                      const Result<CardResponse>& response) {
  Completion out;
  PAY_ASSIGN_OR_RETURN(out.payment, cards_.Load("", payment_id));
  Payment& p = out.payment;
  const bool funding = p.status == PaymentStatus::kPending &&
                       (p.kind == PaymentKind::kFunding ? p.stan : p.funding_stan) == stan;
  const bool oct = p.status == PaymentStatus::kSubmitted && !p.in_doubt() && p.stan == stan;
  if (!funding && !oct) return out;  // an exchange already given up: its resolution is queued
  if (funding) {
    const std::string rrn = p.kind == PaymentKind::kFunding ? p.rrn : p.funding_rrn;
    if (!response) {
      // No answer to the AFT: reverse it (the sender may have been charged).
      CardRequest reversal = cards_.AdviceFor(p, CardMessageType::kReversal, p.amount_minor);
      reversal.rrn = rrn;
      reversal.original_stan = stan;
      PAY_ASSIGN_OR_RETURN(reversal.stan, cards_.NextStan());
      PAY_TRY(cards_.Queue(p, reversal));
      p.doubt_stan = stan;
      p.doubt_amount_minor = p.amount_minor;
      p.reversing = true;
      p.status = PaymentStatus::kUnknown;
      cards_.Record(p, "fund", p.amount_minor, std::string(response.error().name()), stan, 0);
      PAY_TRY(cards_.Save(p));
      return out;
    }
    if (!Approved(response)) {
      p.response_code = response->response_code;
      cards_.Record(p, "fund", p.amount_minor, p.response_code, stan, 0);
      p.status = p.kind == PaymentKind::kP2p ? PaymentStatus::kFundingDeclined
                                                   : PaymentStatus::kDeclined;
      p.claim = {};
      cards_.ClearOpen(p);
      PAY_TRY(cards_.Save(p));
      return out;
    }
    ledger::EntrySpec aft;
    aft.ref = cards_.Ref(p);
    aft.description = "account funding " + p.id;
    aft.postings = {{Receivable(p.currency), Side::kDebit, p.amount_minor},
                    {Disbursement(p.merchant), Side::kCredit, p.amount_minor}};
    PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(aft));
    cards_.Record(p, "fund", p.amount_minor, "00", stan, e.seq);
    p.funded_minor = p.amount_minor;
    if (p.kind == PaymentKind::kFunding) {
      p.status = PaymentStatus::kCompleted;
      p.response_code = "00";
      p.auth_code = response->auth_code;
      p.claim = {};
      cards_.ClearOpen(p);
      PAY_TRY(cards_.Save(p));
      return out;
    }
    // P2P: hold what the AFT brought for the OCT, which goes out next.
    PAY_TRY(HoldForOct(p));
    p.status = PaymentStatus::kSubmitted;
    PAY_TRY(cards_.Save(p));  // still open: the marker stays until the OCT resolves
    out.send_follow_up = true;
    return out;
  }
  // The OCT.
  if (!response) {
    // Never a second OCT: ask what became of this one.
    CardRequest inquiry = cards_.AdviceFor(p, CardMessageType::kStatusInquiry, p.amount_minor);
    inquiry.original_stan = stan;
    PAY_ASSIGN_OR_RETURN(inquiry.stan, cards_.NextStan());
    PAY_TRY(cards_.Queue(p, inquiry));
    p.doubt_stan = stan;
    p.doubt_amount_minor = p.amount_minor;
    p.reversing = true;
    p.status = PaymentStatus::kUnknown;
    cards_.Record(p, "push", p.amount_minor, std::string(response.error().name()), stan, 0);
    PAY_TRY(cards_.Save(p));
    return out;
  }
  PAY_TRY(ResolveOct(p, response->response_code, response->deferred, response->auth_code, "push"));
  p.claim = {};
  cards_.ClearOpen(p);
  PAY_TRY(cards_.Save(p));
  return out;
}

Result<std::optional<Payment>> PushRail::Acknowledge(const payments::Advice& advice,
                                                     const CardResponse& response) {
  PAY_TRY(cards_.Dequeue(advice));
  PAY_ASSIGN_OR_RETURN(Payment p, cards_.Load("", advice.payment_id));
  if (!p.in_doubt() || p.doubt_stan != advice.request.original_stan ||
      p.status != PaymentStatus::kUnknown) {
    return std::optional<Payment>();
  }
  // 25: the network never saw the OCT; a decline code: it was declined. Either way nothing
  // reached the recipient.
  PAY_TRY(ResolveOct(p, response.response_code, response.deferred, response.auth_code, "inquiry"));
  p.doubt_stan.clear();
  p.doubt_amount_minor = 0;
  p.reversing = false;
  Payment answer = p;
  p.claim = {};
  cards_.ClearOpen(p);
  PAY_TRY(cards_.Save(p));
  return std::optional<Payment>(std::move(answer));
}

}  // namespace pay::push
