#include "rails/pull/pull_rail.h"

#include <algorithm>
#include <map>

#include "core/limits.h"
#include "core/record_kinds.h"
#include "core/time_format.h"
#include "pay/money.h"

namespace pay::pull {

namespace {

using ledger::Posting;
using ledger::Side;

// An amount of the payment in its currency's units, as requests give them ("60.00 USD").
std::string Amount(const Payment& p, int64_t minor) {
  auto currency = LookupCurrency(p.currency);
  return currency ? FormatMinor(minor, (*currency)->exponent) + " " + p.currency
                  : std::to_string(minor) + " minor units of " + p.currency;
}
using payments::PaymentKind;
using namespace payments::accounts;

Error Illegal(const Payment& p, std::string_view op, std::string_view why = {}) {
  std::string msg = std::string(op) + ": payment " + p.id + " is " +
                    std::string(PaymentStatusName(p.status));
  if (!why.empty()) msg += "; " + std::string(why);
  return MakeError(ErrorCode::kIllegalTransition, msg);
}

}  // namespace

PullRail::PullRail(payments::Book& book, PullOptions options)
    : book_(book), store_(book.store()), ledger_(book.ledger()), clock_(book.clock()),
      options_(options) {}

Result<int64_t> PullRail::Hold(const Payment& p, int64_t amount, const std::string& ref) {
  ledger::EntrySpec hold;
  hold.ref = ref;
  hold.pending = true;
  hold.description = "authorization " + p.id;
  hold.postings = {{Receivable(p.currency), Side::kDebit, amount},
                   {MerchantPending(p.merchant), Side::kCredit, amount}};
  PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(hold));
  return e.seq;
}

// A payment an operation may act on: not blocked by an unanswered exchange.
Result<Payment> PullRail::LoadUnblocked(const std::string& merchant, const std::string& id,
                                        std::string_view why) {
  PAY_ASSIGN_OR_RETURN(Payment p, book_.Load(merchant, id));
  if (p.in_doubt()) {
    return MakeError(ErrorCode::kPaymentInDoubt,
                     "payment_id: " + p.id + " has an unanswered network exchange" +
                         std::string(why) + "; retry later");
  }
  return p;
}

// ---- online operations ----------------------------------------------------------------------

Result<Prepared> PullRail::Authorize(const std::string& merchant, const AuthorizeRequest& r,
                                     const payments::ChargedCard& card, const Claim& claim) {
  PAY_ASSIGN_OR_RETURN(Payment p, book_.NewPayment(PaymentKind::kPull, merchant, r.currency));
  p.card_fingerprint = card.ref.fingerprint;
  p.card_bin = card.ref.bin;
  p.card_last4 = card.ref.last4;
  p.amount_minor = r.amount_minor;
  p.Note(r.notes);
  return book_.PrepareCharge(std::move(p), card, CardMessageType::kAuthorization, "authorize",
                             PaymentStatus::kDeclined, claim);
}

Result<Prepared> PullRail::Increment(const std::string& merchant, const IncrementRequest& r,
                                     const Claim& claim) {
  PAY_ASSIGN_OR_RETURN(Payment p, book_.Load(merchant, r.payment_id));
  if (p.in_doubt()) {
    return MakeError(ErrorCode::kPaymentInDoubt,
                     "payment_id: " + p.id + " has an unanswered network exchange (STAN " +
                         p.doubt_stan + "); retry later");
  }
  if (p.status != PaymentStatus::kAuthorized || p.hold_seq == 0) {
    return Illegal(p, "increment", "only an authorized payment with nothing captured can grow");
  }
  if (clock_.NowMs() >= p.expires_at_ms) {
    return Illegal(p, "increment", "the authorization expired at " + FormatRfc3339Ms(p.expires_at_ms));
  }
  int64_t total = 0;
  if (__builtin_add_overflow(p.authorized_minor, r.amount_minor, &total) ||
      total > kCardAmountMinorMax) {
    const Currency* cur = FindCurrency(p.currency);
    return MakeError(ErrorCode::kAmountOverflow,
                     "amount: the authorization would exceed " +
                         (cur ? FormatMinor(kCardAmountMinorMax, cur->exponent) + " " + p.currency
                              : std::to_string(kCardAmountMinorMax)) +
                         ", what a card network message carries (ISO 8583 DE 4)");
  }
  Prepared out;
  PAY_ASSIGN_OR_RETURN(std::string stan, book_.NextStan());
  p.doubt_stan = stan;
  p.doubt_amount_minor = r.amount_minor;
  p.claim = claim;
  book_.MarkOpen(p);
  PAY_TRY(book_.Save(p));
  out.needs_network = true;
  out.request = book_.AdviceFor(p, CardMessageType::kIncrement, r.amount_minor);
  out.request.stan = stan;
  out.payment = std::move(p);
  return out;
}

Result<Payment> PullRail::Complete(const std::string& payment_id, const std::string& stan,
                                   const Result<CardResponse>& response) {
  PAY_ASSIGN_OR_RETURN(Payment p, book_.Load("", payment_id));
  const bool is_auth = p.status == PaymentStatus::kPending && p.stan == stan;
  const bool is_increment = !is_auth && p.in_doubt() && !p.reversing && p.doubt_stan == stan;
  // An answer to an exchange that was already resolved (start-up recovery in another process
  // gave it up and queued its reversal) changes nothing: the reversal undoes it at the issuer.
  if (!is_auth && !is_increment) return p;
  const int64_t asked = is_auth ? p.amount_minor : p.doubt_amount_minor;
  std::string code = response ? response->response_code : std::string();
  int64_t approved = 0;
  if (response && response->approved()) {
    approved = code == "10" ? response->approved_minor : asked;
    if (approved <= 0 || approved > asked) code = "30";  // a malformed partial approval
  }
  const bool ok = response && (code == "00" || code == "10");
  if (!response || (response && !ok && response->approved())) {
    // No answer (or an approval we cannot take): the exchange is in doubt. Reverse it and keep
    // the payment blocked until the reversal is acknowledged.
    CardRequest reversal = book_.AdviceFor(p, CardMessageType::kReversal, asked);
    reversal.original_stan = stan;
    PAY_ASSIGN_OR_RETURN(reversal.stan, book_.NextStan());
    PAY_TRY(book_.Queue(p, reversal));
    p.doubt_stan = stan;
    p.doubt_amount_minor = asked;
    p.reversing = true;
    if (is_auth) p.status = PaymentStatus::kUnknown;
    book_.Record(p, is_auth ? "authorize" : "increment", asked,
           response ? code : std::string(response.error().name()), stan, 0);
    PAY_TRY(book_.Save(p));
    return p;
  }
  if (is_auth) {
    p.response_code = code;
    p.auth_code = response->auth_code;
    if (ok) {
      const std::string ref = book_.Ref(p);  // before the history grows: refs are unique per step
      book_.Record(p, "authorize", approved, code, stan, 0);
      PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p, approved, ref));
      p.history.back().entry_id = p.hold_seq;
      p.authorized_minor = approved;
      p.status = PaymentStatus::kAuthorized;
      p.expires_at_ms = clock_.NowMs() + options_.authorization_validity_ms;
    } else {
      book_.Record(p, "authorize", asked, code, stan, 0);
      p.status = PaymentStatus::kDeclined;
    }
  } else if (ok) {
    // The hold grows: the old one is released and a larger one takes its place.
    const std::string ref = book_.Ref(p);
    PAY_TRY(ledger_.VoidPending(p.hold_seq, ref + "/release"));
    PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p, p.authorized_minor + approved, ref));
    p.authorized_minor += approved;
    book_.Record(p, "increment", approved, code, stan, p.hold_seq);
  } else {
    book_.Record(p, "increment", asked, code, stan, 0);
  }
  p.doubt_stan.clear();
  p.doubt_amount_minor = 0;
  p.claim = {};
  book_.ClearOpen(p);
  PAY_TRY(book_.Save(p));
  return p;
}

// ---- advices --------------------------------------------------------------------------------

Result<Payment> PullRail::Capture(const std::string& merchant, const CaptureRequest& r) {
  PAY_ASSIGN_OR_RETURN(Payment p, LoadUnblocked(merchant, r.payment_id, ""));
  if ((p.status != PaymentStatus::kAuthorized && p.status != PaymentStatus::kPartiallyCaptured) ||
      p.hold_seq == 0) {
    return Illegal(p, "capture");
  }
  if (clock_.NowMs() >= p.expires_at_ms) {
    return Illegal(p, "capture", "the authorization expired at " + FormatRfc3339Ms(p.expires_at_ms));
  }
  const int64_t capturable = p.capturable_minor();
  const int64_t amount = r.amount_minor.value_or(capturable);
  if (amount > capturable) {
    return MakeError(ErrorCode::kCaptureExceedsAuthorized,
                     "amount: " + Amount(p, amount) + " exceeds the " + Amount(p, capturable) +
                         " still authorized on " + p.id);
  }
  const int64_t rest = capturable - amount;
  const bool closes = r.final || rest == 0;
  const std::string ref = book_.Ref(p);
  PAY_ASSIGN_OR_RETURN(ledger::Entry post, ledger_.PostPending(p.hold_seq, amount, ref));
  p.hold_seq = 0;
  if (!closes) {
    PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p, rest, ref + "/rest"));
  }
  p.captured_minor += amount;
  p.final_captured = closes;
  p.status = closes ? PaymentStatus::kCaptured : PaymentStatus::kPartiallyCaptured;
  CardRequest advice = book_.AdviceFor(p, CardMessageType::kCapture, amount);
  advice.final_capture = closes;
  PAY_ASSIGN_OR_RETURN(advice.stan, book_.NextStan());
  PAY_TRY(book_.Queue(p, advice));
  book_.Record(p, "capture", amount, "", advice.stan, post.seq);
  if (closes) {
    PAY_TRY(book_.MarkSettleable(p));
  }
  PAY_TRY(book_.Save(p));
  return p;
}

Result<Payment> PullRail::Void(const std::string& merchant, const VoidPaymentRequest& r) {
  PAY_ASSIGN_OR_RETURN(Payment p, LoadUnblocked(merchant, r.payment_id, ""));
  if (p.status != PaymentStatus::kAuthorized || p.hold_seq == 0) {
    return Illegal(p, "void", p.captured_minor > 0 ? "refund a captured payment instead" : "");
  }
  PAY_ASSIGN_OR_RETURN(ledger::Entry released, ledger_.VoidPending(p.hold_seq, book_.Ref(p)));
  CardRequest reversal = book_.AdviceFor(p, CardMessageType::kReversal, p.authorized_minor);
  PAY_ASSIGN_OR_RETURN(reversal.stan, book_.NextStan());
  PAY_TRY(book_.Queue(p, reversal));
  book_.Record(p, "void", p.authorized_minor, "", reversal.stan, released.seq);
  p.hold_seq = 0;
  p.status = PaymentStatus::kVoided;
  PAY_TRY(book_.Save(p));
  return p;
}

Result<Payment> PullRail::Refund(const std::string& merchant, const RefundRequest& r) {
  PAY_ASSIGN_OR_RETURN(Payment p, LoadUnblocked(merchant, r.payment_id, ""));
  if (p.captured_minor == 0) return Illegal(p, "refund", "nothing was captured");
  const int64_t refundable = p.captured_minor - p.refunded_minor;
  const int64_t amount = r.amount_minor.value_or(refundable);
  if (amount <= 0 || amount > refundable) {
    return MakeError(ErrorCode::kRefundExceedsCaptured,
                     "amount: refunds would total more than the " + Amount(p, p.captured_minor) +
                         " captured on " + p.id + " (" + Amount(p, refundable) + " left to refund)");
  }
  // Before settlement the refund comes out of the merchant's pending funds, after it out of
  // the available balance (which must cover it: no overdraft).
  ledger::EntrySpec refund;
  refund.ref = book_.Ref(p);
  refund.description = "refund " + p.id;
  refund.postings = {
      {p.settled ? MerchantAvailable(p.merchant) : MerchantPending(p.merchant), Side::kDebit, amount},
      {Receivable(p.currency), Side::kCredit, amount}};
  PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(refund));
  CardRequest advice = book_.AdviceFor(p, CardMessageType::kRefund, amount);
  PAY_ASSIGN_OR_RETURN(advice.stan, book_.NextStan());
  PAY_TRY(book_.Queue(p, advice));
  book_.Record(p, "refund", amount, "", advice.stan, e.seq);
  p.refunded_minor += amount;
  p.status = p.refunded_minor == p.captured_minor && p.hold_seq == 0
                 ? PaymentStatus::kRefunded
                 : PaymentStatus::kPartiallyRefunded;
  PAY_TRY(book_.Save(p));
  return p;
}

Result<std::optional<Payment>> PullRail::Acknowledge(const Advice& advice) {
  PAY_TRY(book_.Dequeue(advice));
  if (advice.request.type != CardMessageType::kReversal) return std::optional<Payment>();
  PAY_ASSIGN_OR_RETURN(auto found, book_.Find(advice.payment_id));
  if (!found || found->doubt_stan.empty() || found->doubt_stan != advice.request.original_stan) {
    return std::optional<Payment>();
  }
  Payment p = std::move(*found);
  book_.Record(p, "reversal", advice.request.amount_minor, "", advice.request.stan, 0);
  if (p.status == PaymentStatus::kUnknown) p.status = PaymentStatus::kReversed;
  p.doubt_stan.clear();
  p.doubt_amount_minor = 0;
  p.reversing = false;
  Payment answer = p;  // as resolved, with the claim that waited for it (for the engine)
  p.claim = {};
  book_.ClearOpen(p);
  PAY_TRY(book_.Save(p));
  return std::optional<Payment>(std::move(answer));
}

// ---- sweeps ---------------------------------------------------------------------------------

Result<size_t> PullRail::ExpireDue(size_t max) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.DueRecords(store::kPaymentRecord, clock_.NowMs(), max));
  size_t n = 0;
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Payment p, payments::Book::FromRow(row));
    if (p.in_doubt() || p.hold_seq == 0) continue;
    const int64_t released = p.capturable_minor();
    PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.VoidPending(p.hold_seq, book_.Ref(p)));
    CardRequest reversal = book_.AdviceFor(p, CardMessageType::kReversal, released);
    PAY_ASSIGN_OR_RETURN(reversal.stan, book_.NextStan());
    PAY_TRY(book_.Queue(p, reversal));
    book_.Record(p, "expire", released, "", reversal.stan, e.seq);
    p.hold_seq = 0;
    if (p.captured_minor > 0) {
      p.status = PaymentStatus::kCaptured;  // what was captured stands; the rest is released
      p.final_captured = true;
      PAY_TRY(book_.MarkSettleable(p));
    } else {
      p.status = PaymentStatus::kExpired;
    }
    PAY_TRY(book_.Save(p));
    ++n;
  }
  return n;
}

Result<size_t> PullRail::Settle(size_t max, Engine::SettleReport* report) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(store::kSettleRecord, "", "", max));
  size_t n = 0;
  std::map<std::string, EventView> settled;  // per merchant: settlement.completed
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Payment p, book_.Load("", row.id));
    if (p.in_doubt() || p.settled) {
      PAY_TRY(store_.DeleteRecord(store::kSettleRecord, row.id));
      continue;
    }
    PAY_ASSIGN_OR_RETURN(auto merchant, book_.FindMerchant(p.merchant));
    if (!merchant) return MakeError(ErrorCode::kCorruptStore, "store: merchant of " + p.id + " is missing");
    const payments::Merchant& m = *merchant;
    const int64_t net = p.captured_minor - p.refunded_minor;
    int64_t fee = 0;
    if (net > 0) {
      __extension__ typedef __int128 i128;
      fee = static_cast<int64_t>(static_cast<i128>(net) * m.fee_bps / 10000) + m.fee_fixed_minor;
      fee = std::clamp<int64_t>(fee, 0, net);
      ledger::EntrySpec s;
      s.ref = book_.Ref(p, "settle");
      s.description = "settlement " + p.id;
      s.postings.push_back({MerchantPending(p.merchant), Side::kDebit, net});
      if (net - fee > 0) s.postings.push_back({MerchantAvailable(p.merchant), Side::kCredit, net - fee});
      if (fee > 0) s.postings.push_back({Fees(p.currency), Side::kCredit, fee});
      s.postings.push_back({SettlementCash(p.currency), Side::kDebit, net});
      s.postings.push_back({Receivable(p.currency), Side::kCredit, net});
      PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(s));
      book_.Record(p, "settle", net, "", "", e.seq);
    } else {
      book_.Record(p, "settle", 0, "", "", 0);
    }
    p.settled = true;
    p.settled_minor = net;
    p.fee_minor = fee;
    p.status = PaymentStatus::kSettled;
    PAY_TRY(book_.Save(p));
    PAY_TRY(store_.DeleteRecord(store::kSettleRecord, row.id));
    ++report->payments;
    auto it = std::find_if(report->totals.begin(), report->totals.end(),
                           [&](const auto& t) { return std::get<0>(t) == p.currency; });
    if (it == report->totals.end()) {
      report->totals.emplace_back(p.currency, 0, 0);
      it = report->totals.end() - 1;
    }
    std::get<1>(*it) += net;
    std::get<2>(*it) += fee;
    EventView& done = settled[p.merchant];
    done.count += 1;
    done.amount_minor += net;
    done.fee_minor += fee;
    done.currency = p.currency;
    ++n;
  }
  for (auto& [merchant, done] : settled) {  // the run's part of this transaction, per merchant
    done.type = "settlement.completed";
    done.merchant = merchant;
    done.object = "settlement";
    PAY_TRY(book_.events().Emit(std::move(done)));
  }
  return n;
}

}  // namespace pay::pull
