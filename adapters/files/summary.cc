// The replay summary: what the books say after a replay (ReadBooks) and its JSON (SummaryJson).

#include "adapters/files/transaction_files.h"
#include "core/json_writer.h"
#include "pay/card_network.h"

namespace pay::files {

namespace {

// Authorizations expiring within a day count as expiring in the books' totals.
constexpr int64_t kExpiringWithinMs = 24LL * 3600 * 1000;

void SumsJson(JsonWriter& w, const PaymentSums& s) {
  w.Field("payments", s.payments).Field("authorized_minor", s.authorized_minor);
  w.Field("captured_minor", s.captured_minor).Field("refunded_minor", s.refunded_minor);
  w.Field("settled_minor", s.settled_minor).Field("fee_minor", s.fee_minor);
  w.Field("net_to_merchants_minor", s.settled_minor - s.fee_minor);
  w.Field("pushed_minor", s.pushed_minor).Field("funded_minor", s.funded_minor);
}

void CountsJson(JsonWriter& w, const char* key, const std::map<std::string, int64_t>& counts) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : counts) w.Field(k, v);
  w.EndObject();
}

void IssuerDeclinesJson(JsonWriter& w, const std::map<std::string, int64_t>& by_code) {
  w.Key("issuer_declines_by_code").BeginObject();
  for (const auto& [code, n] : by_code) {
    const ResponseCodeMeaning m = DescribeResponseCode(code);
    w.Key(code).BeginObject().Field("count", n).Field("decline_code", m.decline_code);
    w.Field("reason", m.reason).EndObject();
  }
  w.EndObject();
}

void AuthorizationsJson(JsonWriter& w, const AuthorizationCounts& a) {
  w.Key("authorizations").BeginObject();
  w.Field("attempted", a.attempted).Field("approved", a.approved).Field("declined", a.declined);
  w.Field("refused", a.refused).Field("unknown", a.unknown);
  w.Field("approval_rate_bps", ApprovalRateBps(a));
  w.EndObject();
}

void BooksJson(JsonWriter& w, const ReplaySummary& s) {
  w.Key("books").BeginObject();
  for (const auto& [cur, sums] : s.books.by_currency) {
    w.Key(cur).BeginObject();
    SumsJson(w, sums);
    auto a = s.acquirer.find(cur);
    if (a != s.acquirer.end()) {
      w.Field("settlement_account_minor", a->second.settlement_minor);
      w.Field("fees_account_minor", a->second.fees_minor);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Field("payments_in_doubt", s.books.in_doubt);
  w.Field("authorizations_expiring_within_24h", s.books.expiring);
}

}  // namespace

int64_t ApprovalRateBps(const AuthorizationCounts& a) {
  if (a.attempted <= 0) return 0;
  __extension__ typedef __int128 i128;
  return static_cast<int64_t>(static_cast<i128>(a.approved) * 10000 / a.attempted);
}

Result<void> ReadBooks(Engine& engine, int64_t now_ms, ReplaySummary* s) {
  PAY_ASSIGN_OR_RETURN(s->books, SumPayments(engine, now_ms, kExpiringWithinMs));
  s->acquirer.clear();
  for (const auto& [cur, sums] : s->books.by_currency) {
    AcquirerBalances& b = s->acquirer[cur];
    auto settlement = engine.GetAccount("acq/" + cur + "/settlement");
    if (settlement) b.settlement_minor = settlement->balance_minor();
    auto fees = engine.GetAccount("acq/" + cur + "/fees");
    if (fees) b.fees_minor = fees->balance_minor();
  }
  return {};
}

std::string SummaryJson(const ReplaySummary& s) {
  JsonWriter w;
  w.BeginObject();
  w.Field("records", s.records).Field("applied", s.applied).Field("idempotent_replays", s.replayed);
  w.Field("declined", s.declined);
  IssuerDeclinesJson(w, s.issuer_declines_by_code);
  CountsJson(w, "book_refusals_by_code", s.book_refusals_by_code);
  CountsJson(w, "velocity_refusals_by_rule", s.velocity_by_rule);
  AuthorizationsJson(w, s.authorizations);
  w.Field("followups_unapproved", s.followups_unapproved);
  w.Field("errors", s.errors);
  CountsJson(w, "errors_by_code", s.errors_by_code);
  if (!s.first_error.empty()) w.Field("first_error", s.first_error);
  w.Key("totals_minor").BeginObject();
  for (const auto& [cur, ops] : s.totals_minor) {
    w.Key(cur).BeginObject();
    for (const auto& [op, v] : ops) w.Field(op, v);
    w.EndObject();
  }
  w.EndObject();
  w.Field("settlements", s.settlements).Field("settled_payments", s.settled_payments);
  w.Key("settled_minor").BeginObject();
  for (const auto& [cur, nf] : s.settled_minor) {
    w.Key(cur).BeginObject().Field("net", nf.first).Field("fees", nf.second).EndObject();
  }
  w.EndObject();
  BooksJson(w, s);
  w.Field("elapsed_ms", static_cast<int64_t>(s.elapsed_s * 1000));
  w.Field("records_per_second",
          static_cast<int64_t>(s.elapsed_s > 0 ? static_cast<double>(s.records) / s.elapsed_s : 0));
  w.Key("ledger_verify").BeginObject();
  w.Field("ok", s.verify_ok).Field("problems", s.verify_problems).Field("audit_hash", s.audit_hash);
  w.EndObject();
  w.EndObject();
  return w.str();
}

}  // namespace pay::files
