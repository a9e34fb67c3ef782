#include "rails/pull/pull_rail.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <unordered_set>

#include "core/assert.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/money.h"

namespace pay::pull {

namespace {

using ledger::Posting;
using ledger::Side;

std::string Pad(int64_t value, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(value));
  return buf;
}

std::string Receivable(std::string_view cur) { return "acq/" + std::string(cur) + "/network_receivable"; }
std::string SettlementCash(std::string_view cur) { return "acq/" + std::string(cur) + "/settlement"; }
std::string Fees(std::string_view cur) { return "acq/" + std::string(cur) + "/fees"; }
std::string MerchantPending(std::string_view m) { return "m/" + std::string(m) + "/pending"; }
std::string MerchantAvailable(std::string_view m) { return "m/" + std::string(m) + "/available"; }

Error Illegal(const Payment& p, std::string_view op, std::string_view why = {}) {
  std::string msg = std::string(op) + ": payment " + p.id + " is " +
                    std::string(PaymentStatusName(p.status));
  if (!why.empty()) msg += "; " + std::string(why);
  return MakeError(ErrorCode::kIllegalTransition, msg);
}

int64_t Decode64(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

PullRail::PullRail(store::Store& store, ledger::Ledger& ledger, const Clock& clock,
                   PullOptions options)
    : store_(store), ledger_(ledger), clock_(clock), options_(options) {}

// ---- records --------------------------------------------------------------------------------

Result<int64_t> PullRail::NextCounter(const char* name, int64_t* cache) {
  if (!counters_loaded_) {
    for (auto [n, slot] : {std::pair<const char*, int64_t*>{"payment", &payment_seq_},
                           {"stan", &stan_seq_}, {"outbox", &outbox_seq_}}) {
      PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kCounterRecord, n));
      *slot = row ? Decode64(row->body) : 0;
    }
    counters_loaded_ = true;
  }
  ++*cache;
  counters_dirty_ = true;
  return *cache;
}

void PullRail::BeginTransaction() {
  // A transaction that used counters and was neither flushed nor rolled back would hand out
  // the same payment ids and STANs again: that is a bug in the caller.
  PAY_ASSERT(!counters_dirty_, "pull rail: counters used in a transaction that was neither flushed nor rolled back");
  counters_loaded_ = false;
}

Result<void> PullRail::Flush() {
  if (!counters_dirty_) return {};
  for (auto [n, value] : {std::pair<const char*, int64_t>{"payment", payment_seq_},
                          {"stan", stan_seq_}, {"outbox", outbox_seq_}}) {
    store::RecordRow row;
    row.kind = kCounterRecord;
    row.id = n;
    row.body = std::to_string(value);
    PAY_TRY(store_.PutRecord(row));
  }
  counters_dirty_ = false;
  return {};
}

Result<std::string> PullRail::NextStan() {
  PAY_ASSIGN_OR_RETURN(int64_t n, NextCounter("stan", &stan_seq_));
  return Pad((n - 1) % 999'999 + 1, 6);  // 000001..999999, then around again
}

Result<Payment> PullRail::Load(std::string_view merchant, std::string_view id) {
  PAY_ASSIGN_OR_RETURN(auto p, Find(id));
  // Another merchant's payment is reported like a missing one (no probing across merchants).
  if (!p || (!merchant.empty() && p->merchant != merchant)) {
    return MakeError(ErrorCode::kPaymentNotFound,
                     "payment_id: no payment '" + std::string(id.substr(0, 64)) + "'" +
                         (merchant.empty() ? "" : " for merchant " + std::string(merchant)));
  }
  return std::move(*p);
}

Result<std::optional<Payment>> PullRail::Find(std::string_view id) {
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kPaymentRecord, id));
  if (!row) return std::optional<Payment>();
  PAY_ASSIGN_OR_RETURN(Payment p, DecodePayment(row->body));
  return std::optional<Payment>(std::move(p));
}

Result<std::vector<Payment>> PullRail::List(std::string_view merchant, std::string_view after,
                                            size_t limit) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kPaymentRecord, merchant, after, limit));
  std::vector<Payment> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Payment p, DecodePayment(row.body));
    out.push_back(std::move(p));
  }
  return out;
}

Result<void> PullRail::Save(const Payment& p) {
  if (p.history.size() > limits::kPaymentOperationsMax) {
    return MakeError(ErrorCode::kLimitExceeded,
                     "payment " + p.id + ": more than " +
                         std::to_string(limits::kPaymentOperationsMax) + " operations");
  }
  store::RecordRow row;
  row.kind = kPaymentRecord;
  row.id = p.id;
  row.owner = p.merchant;
  const bool open = (p.status == PaymentStatus::kAuthorized ||
                     p.status == PaymentStatus::kPartiallyCaptured) && p.hold_seq != 0;
  row.due_ms = open ? p.expires_at_ms : 0;
  row.body = EncodePayment(p);
  return store_.PutRecord(row);
}

Result<void> PullRail::Queue(const Payment& p, CardRequest request) {
  PAY_ASSIGN_OR_RETURN(int64_t n, NextCounter("outbox", &outbox_seq_));
  store::RecordRow row;
  row.kind = kOutboxRecord;
  row.id = Pad(n, 12);
  row.owner = p.id;
  row.body = EncodeAdvice(request);
  return store_.PutRecord(row);
}

std::string PullRail::Ref(const Payment& p, std::string_view suffix) const {
  std::string ref = "pay/" + p.id + "/" + std::to_string(p.history.size());
  if (!suffix.empty()) ref += "/" + std::string(suffix);
  return ref;
}

CardRequest PullRail::AdviceFor(const Payment& p, CardMessageType type, int64_t amount) const {
  CardRequest r;
  r.type = type;
  r.rrn = p.rrn;
  r.amount_minor = amount;
  r.currency = p.currency;
  r.merchant_id = p.merchant;
  r.original_stan = p.stan;
  r.transmitted_at_ms = clock_.NowMs();
  return r;
}

void PullRail::Record(Payment& p, std::string op, int64_t amount, std::string code,
                      std::string stan, int64_t entry_id) {
  p.history.push_back({std::move(op), amount, std::move(code), std::move(stan), entry_id,
                       clock_.NowMs()});
}

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

// ---- merchants ------------------------------------------------------------------------------

Result<Merchant> PullRail::CreateMerchant(const CreateMerchantRequest& r) {
  PAY_ASSIGN_OR_RETURN(const Currency* currency, LookupCurrency(r.currency, "currency"));
  Merchant m{r.id, std::string(currency->code), r.fee_bps, r.fee_fixed_minor, clock_.NowMs()};
  PAY_ASSIGN_OR_RETURN(auto existing, store_.FindRecord(kMerchantRecord, r.id));
  if (existing) {
    PAY_ASSIGN_OR_RETURN(Merchant old, DecodeMerchant(existing->body));
    if (old.currency != m.currency || old.fee_bps != m.fee_bps ||
        old.fee_fixed_minor != m.fee_fixed_minor) {
      return MakeError(ErrorCode::kAccountExists,
                       "merchant: '" + r.id + "' exists with other attributes (currency " +
                           old.currency + ", fee_bps " + std::to_string(old.fee_bps) + ")");
    }
    return old;
  }
  using ledger::AccountType;
  using ledger::OverdraftMode;
  const std::string cur = m.currency;
  const ledger::AccountSpec specs[] = {
      {Receivable(cur), cur, AccountType::kAsset, OverdraftMode::kUnlimited, 0, {}},
      {SettlementCash(cur), cur, AccountType::kAsset, OverdraftMode::kUnlimited, 0, {}},
      {Fees(cur), cur, AccountType::kRevenue, OverdraftMode::kUnlimited, 0, {}},
      {MerchantPending(r.id), cur, AccountType::kLiability, OverdraftMode::kNone, 0, {}},
      {MerchantAvailable(r.id), cur, AccountType::kLiability, OverdraftMode::kNone, 0, {}},
      // Push payments (rails/push): the prefunded balance, where top-ups come from, and what
      // we owe the network for pushes.
      {"m/" + r.id + "/disbursement", cur, AccountType::kLiability, OverdraftMode::kNone, 0, {}},
      {"acq/" + cur + "/funding_bank", cur, AccountType::kAsset, OverdraftMode::kUnlimited, 0, {}},
      {"acq/" + cur + "/network_payable", cur, AccountType::kLiability, OverdraftMode::kUnlimited, 0, {}},
  };
  for (const auto& spec : specs) PAY_TRY(ledger_.CreateAccount(spec));
  store::RecordRow row;
  row.kind = kMerchantRecord;
  row.id = m.id;
  row.body = EncodeMerchant(m);
  PAY_TRY(store_.PutRecord(row));
  return m;
}

// ---- online operations ----------------------------------------------------------------------

Result<Prepared> PullRail::Authorize(const std::string& merchant, const AuthorizeRequest& r,
                                     const card::CardRef& card, const std::string& local_decline,
                                     const Claim& claim) {
  Prepared out;
  PAY_ASSIGN_OR_RETURN(out.payment, NewPayment(PaymentKind::kPull, merchant, r.currency));
  Payment& p = out.payment;
  p.card_fingerprint = card.fingerprint;
  p.card_bin = card.bin;
  p.card_last4 = card.last4;
  p.amount_minor = r.amount_minor;
  if (!local_decline.empty()) {
    p.status = PaymentStatus::kDeclined;
    p.response_code = local_decline;
    Record(p, "authorize", r.amount_minor, local_decline, "", 0);
    PAY_TRY(Save(p));
    return out;
  }
  PAY_ASSIGN_OR_RETURN(p.stan, NextStan());
  p.status = PaymentStatus::kPending;
  p.claim = claim;
  PAY_TRY(Save(p));
  PAY_TRY(MarkOpen(p.id));
  out.needs_network = true;
  CardRequest& q = out.request;
  q.type = CardMessageType::kAuthorization;
  q.stan = p.stan;
  q.rrn = p.rrn;
  q.pan = r.card.pan;
  PAY_ASSIGN_OR_RETURN(card::Expiry expiry, card::ParseExpiry(r.card.expiry, "expiry"));
  q.expiry_yymm = card::ExpiryYymm(expiry);
  q.cvv = r.card.cvv;
  q.amount_minor = r.amount_minor;
  q.currency = r.currency;
  q.merchant_id = merchant;
  q.transmitted_at_ms = clock_.NowMs();
  return out;
}

Result<Prepared> PullRail::Increment(const std::string& merchant, const IncrementRequest& r,
                                     const Claim& claim) {
  PAY_ASSIGN_OR_RETURN(Payment p, Load(merchant, r.payment_id));
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
  if (__builtin_add_overflow(p.authorized_minor, r.amount_minor, &total)) {
    return MakeError(ErrorCode::kAmountOverflow, "amount: the authorization would overflow");
  }
  Prepared out;
  PAY_ASSIGN_OR_RETURN(std::string stan, NextStan());
  p.doubt_stan = stan;
  p.doubt_amount_minor = r.amount_minor;
  p.claim = claim;
  PAY_TRY(Save(p));
  PAY_TRY(MarkOpen(p.id));
  out.needs_network = true;
  out.request = AdviceFor(p, CardMessageType::kIncrement, r.amount_minor);
  out.request.stan = stan;
  out.payment = std::move(p);
  return out;
}

Result<Payment> PullRail::Complete(const std::string& payment_id, const std::string& stan,
                                   const Result<CardResponse>& response) {
  PAY_ASSIGN_OR_RETURN(Payment p, Load("", payment_id));
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
    CardRequest reversal = AdviceFor(p, CardMessageType::kReversal, asked);
    reversal.original_stan = stan;
    PAY_ASSIGN_OR_RETURN(reversal.stan, NextStan());
    PAY_TRY(Queue(p, reversal));
    p.doubt_stan = stan;
    p.doubt_amount_minor = asked;
    p.reversing = true;
    if (is_auth) p.status = PaymentStatus::kUnknown;
    Record(p, is_auth ? "authorize" : "increment", asked,
           response ? code : std::string(response.error().name()), stan, 0);
    PAY_TRY(Save(p));
    return p;
  }
  if (is_auth) {
    p.response_code = code;
    p.auth_code = response->auth_code;
    if (ok) {
      const std::string ref = Ref(p);  // before the history grows: refs are unique per step
      Record(p, "authorize", approved, code, stan, 0);
      PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p, approved, ref));
      p.history.back().entry_id = p.hold_seq;
      p.authorized_minor = approved;
      p.status = PaymentStatus::kAuthorized;
      p.expires_at_ms = clock_.NowMs() + options_.authorization_validity_ms;
    } else {
      Record(p, "authorize", asked, code, stan, 0);
      p.status = PaymentStatus::kDeclined;
    }
  } else if (ok) {
    // The hold grows: the old one is released and a larger one takes its place.
    const std::string ref = Ref(p);
    PAY_TRY(ledger_.VoidPending(p.hold_seq, ref + "/release"));
    PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p, p.authorized_minor + approved, ref));
    p.authorized_minor += approved;
    Record(p, "increment", approved, code, stan, p.hold_seq);
  } else {
    Record(p, "increment", asked, code, stan, 0);
  }
  p.doubt_stan.clear();
  p.doubt_amount_minor = 0;
  p.claim = {};
  PAY_TRY(Save(p));
  PAY_TRY(store_.DeleteRecord(kDoubtRecord, p.id));
  return p;
}

// ---- advices --------------------------------------------------------------------------------

Result<Payment> PullRail::Capture(const std::string& merchant, const CaptureRequest& r) {
  PAY_ASSIGN_OR_RETURN(Payment p, Load(merchant, r.payment_id));
  if (p.in_doubt()) {
    return MakeError(ErrorCode::kPaymentInDoubt, "payment_id: " + p.id +
                                                     " has an unanswered network exchange; retry later");
  }
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
                     "amount: " + std::to_string(amount) + " exceeds the " +
                         std::to_string(capturable) + " still authorized on " + p.id);
  }
  const int64_t rest = capturable - amount;
  const bool closes = r.final || rest == 0;
  const std::string ref = Ref(p);
  PAY_ASSIGN_OR_RETURN(ledger::Entry post, ledger_.PostPending(p.hold_seq, amount, ref));
  p.hold_seq = 0;
  if (!closes) {
    PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p, rest, ref + "/rest"));
  }
  p.captured_minor += amount;
  p.final_captured = closes;
  p.status = closes ? PaymentStatus::kCaptured : PaymentStatus::kPartiallyCaptured;
  CardRequest advice = AdviceFor(p, CardMessageType::kCapture, amount);
  advice.final_capture = closes;
  PAY_ASSIGN_OR_RETURN(advice.stan, NextStan());
  PAY_TRY(Queue(p, advice));
  Record(p, "capture", amount, "", advice.stan, post.seq);
  if (closes) {
    store::RecordRow settle{kSettleRecord, p.id, "", 0, ""};
    PAY_TRY(store_.PutRecord(settle));
  }
  PAY_TRY(Save(p));
  return p;
}

Result<Payment> PullRail::Void(const std::string& merchant, const VoidPaymentRequest& r) {
  PAY_ASSIGN_OR_RETURN(Payment p, Load(merchant, r.payment_id));
  if (p.in_doubt()) {
    return MakeError(ErrorCode::kPaymentInDoubt, "payment_id: " + p.id +
                                                     " has an unanswered network exchange; retry later");
  }
  if (p.status != PaymentStatus::kAuthorized || p.hold_seq == 0) {
    return Illegal(p, "void", p.captured_minor > 0 ? "refund a captured payment instead" : "");
  }
  PAY_ASSIGN_OR_RETURN(ledger::Entry released, ledger_.VoidPending(p.hold_seq, Ref(p)));
  CardRequest reversal = AdviceFor(p, CardMessageType::kReversal, p.authorized_minor);
  PAY_ASSIGN_OR_RETURN(reversal.stan, NextStan());
  PAY_TRY(Queue(p, reversal));
  Record(p, "void", p.authorized_minor, "", reversal.stan, released.seq);
  p.hold_seq = 0;
  p.status = PaymentStatus::kVoided;
  PAY_TRY(Save(p));
  return p;
}

Result<Payment> PullRail::Refund(const std::string& merchant, const RefundRequest& r) {
  PAY_ASSIGN_OR_RETURN(Payment p, Load(merchant, r.payment_id));
  if (p.in_doubt()) {
    return MakeError(ErrorCode::kPaymentInDoubt, "payment_id: " + p.id +
                                                     " has an unanswered network exchange; retry later");
  }
  if (p.captured_minor == 0) return Illegal(p, "refund", "nothing was captured");
  const int64_t refundable = p.captured_minor - p.refunded_minor;
  const int64_t amount = r.amount_minor.value_or(refundable);
  if (amount <= 0 || amount > refundable) {
    return MakeError(ErrorCode::kRefundExceedsCaptured,
                     "amount: refunds would total more than the " +
                         std::to_string(p.captured_minor) + " captured on " + p.id + " (" +
                         std::to_string(refundable) + " left to refund)");
  }
  // Before settlement the refund comes out of the merchant's pending funds, after it out of
  // the available balance (which must cover it: no overdraft).
  ledger::EntrySpec refund;
  refund.ref = Ref(p);
  refund.description = "refund " + p.id;
  refund.postings = {
      {p.settled ? MerchantAvailable(p.merchant) : MerchantPending(p.merchant), Side::kDebit, amount},
      {Receivable(p.currency), Side::kCredit, amount}};
  PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(refund));
  CardRequest advice = AdviceFor(p, CardMessageType::kRefund, amount);
  PAY_ASSIGN_OR_RETURN(advice.stan, NextStan());
  PAY_TRY(Queue(p, advice));
  Record(p, "refund", amount, "", advice.stan, e.seq);
  p.refunded_minor += amount;
  p.status = p.refunded_minor == p.captured_minor && p.hold_seq == 0
                 ? PaymentStatus::kRefunded
                 : PaymentStatus::kPartiallyRefunded;
  PAY_TRY(Save(p));
  return p;
}

Result<std::vector<Advice>> PullRail::NextAdvices(size_t limit) {
  std::vector<Advice> out;
  std::unordered_set<std::string> seen;  // payments already represented (one advice at a time)
  std::string after;
  while (out.size() < limit) {
    PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kOutboxRecord, "", after, 512));
    for (const auto& row : rows) {
      after = row.id;
      if (!seen.insert(row.owner).second) continue;
      PAY_ASSIGN_OR_RETURN(CardRequest request, DecodeAdvice(row.body));
      out.push_back({row.id, row.owner, std::move(request)});
      if (out.size() == limit) break;
    }
    if (rows.size() < 512) break;
  }
  return out;
}

Result<bool> PullRail::HasAdvices() {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kOutboxRecord, "", "", 1));
  return !rows.empty();
}

Result<std::optional<Payment>> PullRail::Acknowledge(const Advice& advice) {
  PAY_TRY(store_.DeleteRecord(kOutboxRecord, advice.id));
  if (advice.request.type != CardMessageType::kReversal) return std::optional<Payment>();
  PAY_ASSIGN_OR_RETURN(auto found, Find(advice.payment_id));
  if (!found || found->doubt_stan.empty() || found->doubt_stan != advice.request.original_stan) {
    return std::optional<Payment>();
  }
  Payment p = std::move(*found);
  Record(p, "reversal", advice.request.amount_minor, "", advice.request.stan, 0);
  if (p.status == PaymentStatus::kUnknown) p.status = PaymentStatus::kReversed;
  p.doubt_stan.clear();
  p.doubt_amount_minor = 0;
  p.reversing = false;
  Payment answer = p;  // as resolved, with the claim that waited for it (for the engine)
  p.claim = {};
  PAY_TRY(Save(p));
  PAY_TRY(store_.DeleteRecord(kDoubtRecord, p.id));
  return std::optional<Payment>(std::move(answer));
}

// ---- sweeps ---------------------------------------------------------------------------------

Result<size_t> PullRail::ExpireDue(size_t max) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.DueRecords(kPaymentRecord, clock_.NowMs(), max));
  size_t n = 0;
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Payment p, DecodePayment(row.body));
    if (p.in_doubt() || p.hold_seq == 0) continue;
    const int64_t released = p.capturable_minor();
    PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.VoidPending(p.hold_seq, Ref(p)));
    CardRequest reversal = AdviceFor(p, CardMessageType::kReversal, released);
    PAY_ASSIGN_OR_RETURN(reversal.stan, NextStan());
    PAY_TRY(Queue(p, reversal));
    Record(p, "expire", released, "", reversal.stan, e.seq);
    p.hold_seq = 0;
    if (p.captured_minor > 0) {
      p.status = PaymentStatus::kCaptured;  // what was captured stands; the rest is released
      p.final_captured = true;
      store::RecordRow settle{kSettleRecord, p.id, "", 0, ""};
      PAY_TRY(store_.PutRecord(settle));
    } else {
      p.status = PaymentStatus::kExpired;
    }
    PAY_TRY(Save(p));
    ++n;
  }
  return n;
}

Result<void> PullRail::ClearOpen(const std::string& payment_id) {
  return store_.DeleteRecord(kDoubtRecord, payment_id);
}

Result<void> PullRail::Dequeue(const Advice& advice) {
  return store_.DeleteRecord(kOutboxRecord, advice.id);
}

Result<std::string> PullRail::NextRrn() {
  PAY_ASSIGN_OR_RETURN(int64_t seq, NextCounter("payment", &payment_seq_));
  return Pad(seq, 12);
}

Result<Payment> PullRail::NewPayment(PaymentKind kind, const std::string& merchant,
                                     const std::string& currency) {
  PAY_ASSIGN_OR_RETURN(auto mrow, store_.FindRecord(kMerchantRecord, merchant));
  if (!mrow) {
    return MakeError(ErrorCode::kUnknownMerchant, "merchant: no merchant '" + merchant + "'");
  }
  PAY_ASSIGN_OR_RETURN(Merchant m, DecodeMerchant(mrow->body));
  if (m.currency != currency) {
    return MakeError(ErrorCode::kUnknownMerchant,
                     "currency: merchant " + merchant + " takes " + m.currency + ", not " + currency);
  }
  Payment p;
  p.kind = kind;
  PAY_ASSIGN_OR_RETURN(p.rrn, NextRrn());
  p.id = "pay_" + p.rrn;
  p.merchant = merchant;
  p.currency = currency;
  p.created_at_ms = clock_.NowMs();
  return p;
}

Result<void> PullRail::MarkOpen(const std::string& payment_id) {
  store::RecordRow row{kDoubtRecord, payment_id, "", 0, std::to_string(clock_.NowMs())};
  return store_.PutRecord(row);
}

Result<bool> PullRail::HasOpenExchanges() {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kDoubtRecord, "", "", 1));
  return !rows.empty();
}

Result<std::vector<PullRail::OpenExchange>> PullRail::StaleExchanges(int64_t grace_ms) {
  std::vector<OpenExchange> out;
  std::string after;
  const int64_t now = clock_.NowMs();
  for (;;) {
    PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kDoubtRecord, "", after, 512));
    for (const auto& row : rows) {
      after = row.id;
      // Younger than the grace: another process may still be waiting for the answer.
      if (now - Decode64(row.body) < grace_ms) continue;
      PAY_ASSIGN_OR_RETURN(Payment p, Load("", row.id));
      const bool pending = p.status == PaymentStatus::kPending ||
                           (p.status == PaymentStatus::kSubmitted && !p.in_doubt());
      if (!pending && !p.in_doubt()) {  // resolved already: the marker is stale
        PAY_TRY(store_.DeleteRecord(kDoubtRecord, p.id));
        continue;
      }
      if (p.reversing) continue;  // its reversal or inquiry is queued: the outbox resolves it
      std::string stan = p.in_doubt() ? p.doubt_stan : p.stan;
      if (p.status == PaymentStatus::kPending && !p.funding_stan.empty()) stan = p.funding_stan;
      out.push_back({std::move(p), std::move(stan)});
    }
    if (rows.size() < 512) return out;
  }
}

Result<size_t> PullRail::Settle(size_t max, Engine::SettleReport* report) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kSettleRecord, "", "", max));
  size_t n = 0;
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Payment p, Load("", row.id));
    if (p.in_doubt() || p.settled) {
      PAY_TRY(store_.DeleteRecord(kSettleRecord, row.id));
      continue;
    }
    PAY_ASSIGN_OR_RETURN(auto mrow, store_.FindRecord(kMerchantRecord, p.merchant));
    if (!mrow) return MakeError(ErrorCode::kCorruptStore, "store: merchant of " + p.id + " is missing");
    PAY_ASSIGN_OR_RETURN(Merchant m, DecodeMerchant(mrow->body));
    const int64_t net = p.captured_minor - p.refunded_minor;
    int64_t fee = 0;
    if (net > 0) {
      __extension__ typedef __int128 i128;
      fee = static_cast<int64_t>(static_cast<i128>(net) * m.fee_bps / 10000) + m.fee_fixed_minor;
      fee = std::clamp<int64_t>(fee, 0, net);
      ledger::EntrySpec s;
      s.ref = Ref(p, "settle");
      s.description = "settlement " + p.id;
      s.postings.push_back({MerchantPending(p.merchant), Side::kDebit, net});
      if (net - fee > 0) s.postings.push_back({MerchantAvailable(p.merchant), Side::kCredit, net - fee});
      if (fee > 0) s.postings.push_back({Fees(p.currency), Side::kCredit, fee});
      s.postings.push_back({SettlementCash(p.currency), Side::kDebit, net});
      s.postings.push_back({Receivable(p.currency), Side::kCredit, net});
      PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.CreateEntry(s));
      Record(p, "settle", net, "", "", e.seq);
    } else {
      Record(p, "settle", 0, "", "", 0);
    }
    p.settled = true;
    p.settled_minor = net;
    p.fee_minor = fee;
    p.status = PaymentStatus::kSettled;
    PAY_TRY(Save(p));
    PAY_TRY(store_.DeleteRecord(kSettleRecord, row.id));
    ++report->payments;
    auto it = std::find_if(report->totals.begin(), report->totals.end(),
                           [&](const auto& t) { return std::get<0>(t) == p.currency; });
    if (it == report->totals.end()) {
      report->totals.emplace_back(p.currency, 0, 0);
      it = report->totals.end() - 1;
    }
    std::get<1>(*it) += net;
    std::get<2>(*it) += fee;
    ++n;
  }
  return n;
}

}  // namespace pay::pull
