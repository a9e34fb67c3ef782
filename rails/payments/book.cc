#include "rails/payments/book.h"

#include <charconv>
#include <cstdio>
#include <unordered_set>

#include "core/assert.h"
#include "core/limits.h"
#include "core/record_kinds.h"
#include "pay/money.h"

namespace pay::payments {

namespace accounts {
std::string Receivable(std::string_view c) { return "acq/" + std::string(c) + "/network_receivable"; }
std::string SettlementCash(std::string_view c) { return "acq/" + std::string(c) + "/settlement"; }
std::string Fees(std::string_view c) { return "acq/" + std::string(c) + "/fees"; }
std::string FundingBank(std::string_view c) { return "acq/" + std::string(c) + "/funding_bank"; }
std::string NetworkPayable(std::string_view c) { return "acq/" + std::string(c) + "/network_payable"; }
std::string MerchantPending(std::string_view m) { return "m/" + std::string(m) + "/pending"; }
std::string MerchantAvailable(std::string_view m) { return "m/" + std::string(m) + "/available"; }
std::string Disbursement(std::string_view m) { return "m/" + std::string(m) + "/disbursement"; }
}  // namespace accounts

namespace {

using store::kCounterRecord;
using store::kMerchantRecord;
using store::kOutboxRecord;
using store::kPaymentRecord;
using store::kSettleRecord;

std::string Pad(int64_t value, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(value));
  return buf;
}

int64_t Decode64(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

constexpr size_t kScanPage = 512;

}  // namespace

Book::Book(store::Store& store, ledger::Ledger& ledger, const Clock& clock)
    : store_(store), ledger_(ledger), clock_(clock), events_(store, clock) {}

// ---- counters -------------------------------------------------------------------------------

void Book::BeginTransaction() {
  // A transaction that used counters and was neither flushed nor rolled back would hand out
  // the same payment ids and STANs again: that is a bug in the caller.
  PAY_ASSERT(!counters_dirty_, "payments: counters used in a transaction that was neither flushed nor rolled back");
  counters_loaded_ = false;
  events_.BeginTransaction();
}

Result<int64_t> Book::NextCounter(int64_t* slot) {
  if (!counters_loaded_) {
    for (auto [n, s] : {std::pair<const char*, int64_t*>{"payment", &payment_seq_},
                        {"stan", &stan_seq_}, {"outbox", &outbox_seq_}}) {
      PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kCounterRecord, n));
      *s = row ? Decode64(row->body) : 0;
    }
    counters_loaded_ = true;
  }
  ++*slot;
  counters_dirty_ = true;
  return *slot;
}

Result<void> Book::Flush() {
  PAY_TRY(events_.Flush());
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

Result<std::string> Book::NextStan() {
  PAY_ASSIGN_OR_RETURN(int64_t n, NextCounter(&stan_seq_));
  return Pad((n - 1) % 999'999 + 1, 6);  // 000001..999999, then around again
}

Result<std::string> Book::NextRrn() {
  PAY_ASSIGN_OR_RETURN(int64_t seq, NextCounter(&payment_seq_));
  const int64_t span = partitions_ > 1 ? limits::kPartitionRrnSpan : limits::kPartitionRrnSpan * 100;
  if (seq >= span) {
    return MakeError(ErrorCode::kInternal, "payments: the retrieval reference numbers of this "
                                           "partition are used up (" + std::to_string(span - 1) + ")");
  }
  return Pad(int64_t{partition_} * limits::kPartitionRrnSpan + seq, 12);
}

// ---- merchants ------------------------------------------------------------------------------

Result<Merchant> Book::CreateMerchant(const CreateMerchantRequest& r) {
  PAY_ASSIGN_OR_RETURN(const Currency* currency, LookupCurrency(r.currency, "currency"));
  Merchant m{r.id, std::string(currency->code), r.fee_bps, r.fee_fixed_minor, clock_.NowMs()};
  PAY_ASSIGN_OR_RETURN(auto old, FindMerchant(r.id));
  if (old) {
    if (old->currency != m.currency || old->fee_bps != m.fee_bps ||
        old->fee_fixed_minor != m.fee_fixed_minor) {
      return MakeError(ErrorCode::kAccountExists,
                       "merchant: '" + r.id + "' exists with other attributes (currency " +
                           old->currency + ", fee_bps " + std::to_string(old->fee_bps) + ")");
    }
    return std::move(*old);
  }
  using ledger::AccountType;
  using ledger::OverdraftMode;
  using namespace accounts;
  const std::string cur = m.currency;
  const ledger::AccountSpec specs[] = {
      {Receivable(cur), cur, AccountType::kAsset, OverdraftMode::kUnlimited, 0, {}},
      {SettlementCash(cur), cur, AccountType::kAsset, OverdraftMode::kUnlimited, 0, {}},
      {Fees(cur), cur, AccountType::kRevenue, OverdraftMode::kUnlimited, 0, {}},
      {MerchantPending(r.id), cur, AccountType::kLiability, OverdraftMode::kNone, 0, {}},
      {MerchantAvailable(r.id), cur, AccountType::kLiability, OverdraftMode::kNone, 0, {}},
      // Push payments: the prefunded balance, where top-ups come from, and what we owe the
      // network for pushes.
      {Disbursement(r.id), cur, AccountType::kLiability, OverdraftMode::kNone, 0, {}},
      {FundingBank(cur), cur, AccountType::kAsset, OverdraftMode::kUnlimited, 0, {}},
      {NetworkPayable(cur), cur, AccountType::kLiability, OverdraftMode::kUnlimited, 0, {}},
  };
  for (const auto& spec : specs) PAY_TRY(ledger_.CreateAccount(spec));
  store::RecordRow row;
  row.kind = kMerchantRecord;
  row.id = m.id;
  row.body = EncodeMerchant(m);
  PAY_TRY(store_.PutRecord(row));
  return m;
}

Result<std::optional<Merchant>> Book::FindMerchant(std::string_view id) {
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kMerchantRecord, id));
  if (!row) return std::optional<Merchant>();
  PAY_ASSIGN_OR_RETURN(Merchant m, DecodeMerchant(row->body));
  return std::optional<Merchant>(std::move(m));
}

Result<std::vector<Merchant>> Book::ListMerchants(std::string_view after_id, size_t limit) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kMerchantRecord, "", after_id, limit));
  std::vector<Merchant> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Merchant m, DecodeMerchant(row.body));
    out.push_back(std::move(m));
  }
  return out;
}

// ---- payments -------------------------------------------------------------------------------

Result<Payment> Book::NewPayment(PaymentKind kind, const std::string& merchant,
                                 const std::string& currency) {
  PAY_ASSIGN_OR_RETURN(auto m, FindMerchant(merchant));
  if (!m) {
    return MakeError(ErrorCode::kUnknownMerchant, "merchant: no merchant '" + merchant + "'");
  }
  if (m->currency != currency) {
    return MakeError(ErrorCode::kUnknownMerchant,
                     "currency: merchant " + merchant + " takes " + m->currency + ", not " + currency);
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

Result<std::optional<Payment>> Book::Find(std::string_view id) {
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(kPaymentRecord, id));
  if (!row) return std::optional<Payment>();
  PAY_ASSIGN_OR_RETURN(Payment p, FromRow(*row));
  return std::optional<Payment>(std::move(p));
}

Result<Payment> Book::Load(std::string_view merchant, std::string_view id) {
  PAY_ASSIGN_OR_RETURN(auto p, Find(id));
  if (!p || (!merchant.empty() && p->merchant != merchant)) {
    return MakeError(ErrorCode::kPaymentNotFound,
                     "payment_id: no payment '" + std::string(id.substr(0, 64)) + "'" +
                         (merchant.empty() ? "" : " for merchant " + std::string(merchant)));
  }
  return std::move(*p);
}

Result<std::vector<Payment>> Book::List(std::string_view merchant, std::string_view after,
                                        size_t limit) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kPaymentRecord, merchant, after, limit));
  std::vector<Payment> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(Payment p, FromRow(row));
    out.push_back(std::move(p));
  }
  return out;
}

Result<void> Book::Save(const Payment& p) {
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
  row.open_ms = p.open_since_ms;
  PAY_TRY(store_.PutRecord(row));
  return events_.PaymentChanged(p);
}

Result<Payment> Book::FromRow(const store::RecordRow& row) {
  PAY_ASSIGN_OR_RETURN(Payment p, DecodePayment(row.body));
  p.open_since_ms = row.open_ms;
  p.saved = true;
  p.saved_ops = p.history.size();
  p.saved_status = p.status;
  return p;
}

void Book::Record(Payment& p, std::string op, int64_t amount, std::string code, std::string stan,
                  int64_t entry_id) const {
  p.history.push_back({std::move(op), amount, std::move(code), std::move(stan), entry_id,
                       clock_.NowMs()});
}

std::string Book::Ref(const Payment& p, std::string_view suffix) const {
  std::string ref = std::string(kRefPrefix) + p.id + "/" + std::to_string(p.history.size());
  if (!suffix.empty()) ref += "/" + std::string(suffix);
  return ref;
}

Result<void> Book::MarkSettleable(const Payment& p) {
  return store_.PutRecord(store::RecordRow{kSettleRecord, p.id, "", 0, ""});
}

Result<Prepared> Book::PrepareCharge(Payment payment, const ChargedCard& card,
                                     CardMessageType type, std::string_view op,
                                     PaymentStatus declined_status, const Claim& claim,
                                     bool own_refs) {
  Prepared out;
  out.payment = std::move(payment);
  Payment& p = out.payment;
  if (!card.local_decline.empty()) {
    p.status = declined_status;
    p.response_code = card.local_decline;
    Record(p, std::string(op), p.amount_minor, card.local_decline, "", 0);
    PAY_TRY(Save(p));
    return out;
  }
  std::string rrn = p.rrn;
  std::string stan;
  if (own_refs) {
    PAY_ASSIGN_OR_RETURN(p.funding_rrn, NextRrn());
    PAY_ASSIGN_OR_RETURN(p.funding_stan, NextStan());
    rrn = p.funding_rrn;
    stan = p.funding_stan;
  } else {
    PAY_ASSIGN_OR_RETURN(p.stan, NextStan());
    stan = p.stan;
  }
  p.status = PaymentStatus::kPending;
  p.claim = claim;
  MarkOpen(p);
  PAY_TRY(Save(p));
  out.needs_network = true;
  CardRequest& q = out.request;
  q = AdviceFor(p, type, p.amount_minor);
  q.rrn = rrn;
  q.stan = stan;
  q.original_stan.clear();
  q.pan = card.input->pan;
  PAY_ASSIGN_OR_RETURN(card::Expiry expiry, card::ParseExpiry(card.input->expiry, card.expiry_field));
  q.expiry_yymm = card::ExpiryYymm(expiry);
  q.cvv = card.input->cvv;
  return out;
}

// ---- the outbox -----------------------------------------------------------------------------

CardRequest Book::AdviceFor(const Payment& p, CardMessageType type, int64_t amount) const {
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

Result<void> Book::Queue(const Payment& p, CardRequest request) {
  PAY_TRY(CheckCarried(request));
  PAY_ASSIGN_OR_RETURN(int64_t n, NextCounter(&outbox_seq_));
  store::RecordRow row;
  row.kind = kOutboxRecord;
  row.id = Pad(n, 12);
  row.owner = p.id;
  row.body = EncodeAdvice(request);
  return store_.PutRecord(row);
}

Result<void> Book::Dequeue(const Advice& advice) {
  return store_.DeleteRecord(kOutboxRecord, advice.id);
}

Result<std::vector<Advice>> Book::NextAdvices(size_t limit) {
  std::vector<Advice> out;
  std::unordered_set<std::string> seen;  // payments already represented (one advice at a time)
  std::string after;
  while (out.size() < limit) {
    PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kOutboxRecord, "", after, kScanPage));
    for (const auto& row : rows) {
      after = row.id;
      if (!seen.insert(row.owner).second) continue;
      PAY_ASSIGN_OR_RETURN(CardRequest request, DecodeAdvice(row.body));
      out.push_back({row.id, row.owner, std::move(request)});
      if (out.size() == limit) break;
    }
    if (rows.size() < kScanPage) break;
  }
  return out;
}

Result<bool> Book::HasAdvices() {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListRecords(kOutboxRecord, "", "", 1));
  return !rows.empty();
}

// ---- open exchanges -------------------------------------------------------------------------

Result<bool> Book::HasOpenExchanges() {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.OpenRecords(kPaymentRecord, "", 1));
  return !rows.empty();
}

Result<std::vector<OpenExchange>> Book::StaleExchanges(
    int64_t grace_ms, const std::unordered_set<std::string>& exchanging,
    const std::unordered_set<std::string>& orphaned) {
  std::vector<OpenExchange> out;
  std::string after;
  const int64_t now = clock_.NowMs();
  for (;;) {
    PAY_ASSIGN_OR_RETURN(auto rows, store_.OpenRecords(kPaymentRecord, after, kScanPage));
    for (const auto& row : rows) {
      after = row.id;
      // Younger than the grace: another process may still be waiting for the answer. Opened
      // "in the future", the clock went back since: its age is unknown, and giving it up (a
      // reversal or an inquiry) is safe where waiting could last as long as the clock's jump.
      const bool young = row.open_ms <= now && now - row.open_ms < grace_ms;
      if ((young && !orphaned.contains(row.id)) || exchanging.contains(row.id)) continue;
      PAY_ASSIGN_OR_RETURN(Payment p, FromRow(row));
      const bool pending = p.status == PaymentStatus::kPending ||
                           (p.status == PaymentStatus::kSubmitted && !p.in_doubt());
      if (!pending && !p.in_doubt()) {  // resolved already: the mark is stale
        ClearOpen(p);
        PAY_TRY(Save(p));
        continue;
      }
      if (p.reversing) continue;  // its reversal or inquiry is queued: the outbox resolves it
      std::string stan = p.in_doubt() ? p.doubt_stan : p.stan;
      if (p.status == PaymentStatus::kPending && !p.funding_stan.empty()) stan = p.funding_stan;
      out.push_back({std::move(p), std::move(stan)});
    }
    if (rows.size() < kScanPage) return out;
  }
}

}  // namespace pay::payments
