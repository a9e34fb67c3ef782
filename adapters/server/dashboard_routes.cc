// The operations dashboard's routes (dashboard.h, docs/dashboard.md): the embedded page and the
// admin reads it draws from. Plain C++: no Beast, no Asio.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "adapters/server/dashboard.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/card_network.h"
#include "pay/money.h"

namespace pay::server {

namespace {

constexpr int64_t kExpiringWithinMs = 24LL * 3600 * 1000;  // "expiring": within a day
constexpr size_t kListedMax = 50;          // payments in doubt, expiring, payouts listed
constexpr size_t kSettlementRunsMax = 20;  // the newest runs listed
constexpr size_t kSeriesBucketsMax = 48;
constexpr int64_t kBucketChoicesS[] = {60, 300, 900, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600};
constexpr size_t kVerifyProblemsListedMax = 100;

HttpResponse Forbidden(const std::string& what) {
  return ErrorResponse(403, ErrorCode::kForbidden, "forbidden: " + what);
}

std::string Amount(int64_t minor, std::string_view currency) {
  const Currency* c = FindCurrency(currency);
  return FormatMinor(minor, c != nullptr ? c->exponent : 0);
}

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// ---- the page ---------------------------------------------------------------------------------

HttpResponse Asset(std::string_view name) {
  for (size_t i = 0; i < kDashboardAssetCount; ++i) {
    const DashboardAsset& a = kDashboardAssets[i];
    if (a.name != name) continue;
    HttpResponse r;
    r.content_type = std::string(a.content_type);
    r.body = std::string(a.body);
    // The page runs only its own script and style and talks only to this server.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; "
                           "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                           "base-uri 'none'; form-action 'none'");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  HttpResponse r =
      ErrorResponse(404, ErrorCode::kNotFound, "path: the dashboard has no file by that name");
  r.route = "unknown";
  return r;
}

// ---- the summary ------------------------------------------------------------------------------

bool IsCard(const PaymentView& p) { return p.kind == PaymentKind::kPull; }
bool IsPayout(const PaymentView& p) {
  return p.kind == PaymentKind::kPush || p.kind == PaymentKind::kP2p;
}
bool InDoubt(const PaymentView& p) {
  return !p.in_doubt_stan.empty() || p.status == PaymentStatus::kPending ||
         p.status == PaymentStatus::kUnknown || p.status == PaymentStatus::kSubmitted;
}
bool Capturable(const PaymentView& p) {
  return p.status == PaymentStatus::kAuthorized || p.status == PaymentStatus::kPartiallyCaptured;
}

struct MerchantTotals {
  std::string currency;
  int64_t payments = 0, authorizations = 0, approved = 0, declined = 0;
  int64_t captured_minor = 0, refunded_minor = 0, settled_minor = 0, fee_minor = 0;
  int64_t payouts = 0, paid_out_minor = 0;
};

struct SettlementRun {
  int64_t payments = 0, net_minor = 0, fee_minor = 0;
};

// A card authorization's answer, for the series: when, and the response code ("" approved).
struct AuthPoint {
  int64_t at_ms = 0;
  bool approved = false;
  std::string code;
};

struct Summary {
  int64_t now_ms = 0;
  size_t scanned = 0;
  bool truncated = false;
  std::map<std::string, int64_t> statuses;
  std::map<std::string, MerchantTotals> merchants;
  std::map<std::string, int64_t> declines;  // response code -> count
  std::vector<AuthPoint> auths;
  std::map<std::string, int64_t> payout_statuses;
  std::deque<PaymentView> payouts;  // the newest kListedMax (history dropped)
  std::vector<PaymentView> in_doubt;
  size_t in_doubt_total = 0;
  std::vector<PaymentView> expiring;
  size_t expiring_total = 0;
  std::map<std::pair<int64_t, std::string>, SettlementRun> settlements;  // (second, currency)
};

void Count(Summary& s, PaymentView p) {
  ++s.statuses[std::string(PaymentStatusName(p.status))];
  MerchantTotals& m = s.merchants[p.merchant];
  m.currency = p.currency;
  ++m.payments;
  for (const PaymentOperation& op : p.history) {
    if (op.op != "settle") continue;
    SettlementRun& run = s.settlements[{op.at_ms / 1000, p.currency}];
    ++run.payments;
    run.net_minor += op.amount_minor;
    run.fee_minor += p.fee_minor;
  }
  p.history.clear();
  if (IsCard(p)) {
    m.captured_minor += p.captured_minor;
    m.refunded_minor += p.refunded_minor;
    m.settled_minor += p.settled_minor;
    m.fee_minor += p.fee_minor;
    if (p.status != PaymentStatus::kPending && p.status != PaymentStatus::kUnknown) {
      const bool approved = p.status != PaymentStatus::kDeclined;
      ++m.authorizations;
      ++(approved ? m.approved : m.declined);
      if (!approved) ++s.declines[p.response_code];
      s.auths.push_back({p.created_at_ms, approved, approved ? "" : p.response_code});
    }
  }
  if (IsPayout(p)) {
    ++m.payouts;
    ++s.payout_statuses[std::string(PaymentStatusName(p.status))];
    if (p.status == PaymentStatus::kCompleted || p.status == PaymentStatus::kPendingCredit) {
      m.paid_out_minor += p.amount_minor;
    }
  }
  if (InDoubt(p) && ++s.in_doubt_total <= kListedMax) s.in_doubt.push_back(p);
  if (Capturable(p) && p.expires_at_ms != 0 && p.expires_at_ms - s.now_ms <= kExpiringWithinMs) {
    ++s.expiring_total;
    s.expiring.push_back(p);
    std::sort(s.expiring.begin(), s.expiring.end(), [](const PaymentView& a, const PaymentView& b) {
      return a.expires_at_ms < b.expires_at_ms;
    });
    if (s.expiring.size() > kListedMax) s.expiring.pop_back();
  }
  if (IsPayout(p)) {
    s.payouts.push_back(std::move(p));
    if (s.payouts.size() > kListedMax) s.payouts.pop_front();
  }
}

Result<Summary> Scan(Engine& engine) {
  Summary s;
  s.now_ms = NowMs();
  std::string after;
  while (s.scanned < kDashboardScanMax) {
    const size_t limit = std::min(limits::kListRowsMax, kDashboardScanMax - s.scanned);
    PAY_ASSIGN_OR_RETURN(Page<PaymentView> page, engine.ListPayments("", after, limit));
    for (PaymentView& p : page.items) Count(s, std::move(p));
    s.scanned += page.items.size();
    if (page.next_after.empty() || page.items.empty()) return s;
    after = page.next_after;
  }
  s.truncated = true;
  return s;
}

void PaymentBrief(JsonWriter& w, const PaymentView& p) {
  w.BeginObject();
  w.Field("payment_id", p.id)
      .Field("merchant", p.merchant)
      .Field("status", PaymentStatusName(p.status));
  w.Field("type", PaymentKindName(p.kind)).Field("currency", p.currency);
  w.Field("amount", Amount(p.amount_minor, p.currency));
  w.Field("capturable", Amount(p.capturable_minor, p.currency));
  if (!p.response_code.empty()) w.Field("response_code", p.response_code);
  if (!p.in_doubt_stan.empty()) w.Field("in_doubt_stan", p.in_doubt_stan);
  if (!p.recipient_name.empty()) w.Field("recipient_name", p.recipient_name);
  w.Field("created_at", FormatRfc3339Ms(p.created_at_ms));
  if (p.expires_at_ms != 0) w.Field("authorization_expires_at", FormatRfc3339Ms(p.expires_at_ms));
  w.EndObject();
}

void Counts(JsonWriter& w, std::string_view key, const std::map<std::string, int64_t>& counts) {
  w.Key(key).BeginObject();
  for (const auto& [name, n] : counts) w.Field(name, n);
  w.EndObject();
}

// Authorizations per time bucket: the smallest bucket of kBucketChoicesS that keeps the span of
// the scanned payments within kSeriesBucketsMax buckets.
void Series(JsonWriter& w, const std::vector<AuthPoint>& auths) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const AuthPoint& a : auths) {
    lo = std::min(lo, a.at_ms);
    hi = std::max(hi, a.at_ms);
  }
  int64_t bucket_s = kBucketChoicesS[std::size(kBucketChoicesS) - 1];
  for (int64_t b : kBucketChoicesS) {
    if (auths.empty() ||
        (hi / 1000 / b - lo / 1000 / b) < static_cast<int64_t>(kSeriesBucketsMax)) {
      bucket_s = b;
      break;
    }
  }
  struct Bucket {
    int64_t authorizations = 0, approved = 0;
    std::map<std::string, int64_t> declines;
  };
  std::map<int64_t, Bucket> buckets;
  // The newest kSeriesBucketsMax buckets (the week-long bucket may still leave older ones).
  const int64_t newest = auths.empty() ? 0 : hi / 1000 / bucket_s;
  const int64_t first = newest - static_cast<int64_t>(kSeriesBucketsMax) + 1;
  for (const AuthPoint& a : auths) {
    const int64_t k = a.at_ms / 1000 / bucket_s;
    if (k < first) continue;
    Bucket& b = buckets[k];
    ++b.authorizations;
    if (a.approved) {
      ++b.approved;
    } else {
      ++b.declines[a.code];
    }
  }
  w.Field("bucket_s", bucket_s).Key("series").BeginArray();
  for (const auto& [k, b] : buckets) {
    w.BeginObject().Field("start", FormatRfc3339Ms(k * bucket_s * 1000));
    w.Field("authorizations", b.authorizations).Field("approved", b.approved);
    Counts(w, "declines", b.declines);
    w.EndObject();
  }
  w.EndArray();
}

void Approval(JsonWriter& w, const Summary& s) {
  int64_t authorizations = 0, approved = 0;
  for (const auto& [id, m] : s.merchants) {
    authorizations += m.authorizations;
    approved += m.approved;
  }
  w.Key("approval").BeginObject();
  w.Field("authorizations", authorizations).Field("approved", approved);
  w.Field("declined", authorizations - approved).EndObject();
  w.Key("declines").BeginArray();
  for (const auto& [code, n] : s.declines) {
    const ResponseCodeMeaning meaning = DescribeResponseCode(code);
    w.BeginObject().Field("response_code", code).Field("decline_code", meaning.decline_code);
    w.Field("reason", meaning.reason).Field("count", n).EndObject();
  }
  w.EndArray();
  Series(w, s.auths);
}

// The balance of one of a merchant's accounts: {"balance","available"}, or null without one.
Result<void> Balance(JsonWriter& w, Engine& engine, std::string_view key,
                     const std::string& account) {
  w.Key(key);
  auto a = engine.GetAccount(account);
  if (!a && a.error().code == ErrorCode::kUnknownAccount) {
    w.Null();
    return {};
  }
  if (!a) return a.error();
  w.BeginObject().Field("balance", Amount(a->balance_minor(), a->currency->code));
  w.Field("available", Amount(a->available_minor(), a->currency->code)).EndObject();
  return {};
}

Result<void> Merchants(JsonWriter& w, Engine& engine, const Summary& s) {
  PAY_ASSIGN_OR_RETURN(Page<Merchant> page, engine.ListMerchants("", kDashboardMerchantsMax));
  w.Field("merchants_truncated", !page.next_after.empty());
  w.Key("merchants").BeginArray();
  for (const Merchant& m : page.items) {
    const auto it = s.merchants.find(m.id);
    const MerchantTotals t = it == s.merchants.end() ? MerchantTotals{} : it->second;
    const std::string& c = m.currency;
    w.BeginObject().Field("merchant", m.id).Field("currency", c);
    w.Field("fee_bps", static_cast<int64_t>(m.fee_bps))
        .Field("fee_fixed", Amount(m.fee_fixed_minor, c));
    w.Field("payments", t.payments).Field("authorizations", t.authorizations);
    w.Field("approved", t.approved).Field("declined", t.declined);
    w.Field("captured", Amount(t.captured_minor, c)).Field("refunded", Amount(t.refunded_minor, c));
    w.Field("settled", Amount(t.settled_minor, c)).Field("fees", Amount(t.fee_minor, c));
    w.Field("payouts", t.payouts).Field("paid_out", Amount(t.paid_out_minor, c));
    w.Key("balances").BeginObject();
    PAY_TRY(Balance(w, engine, "pending", "m/" + m.id + "/pending"));
    PAY_TRY(Balance(w, engine, "available", "m/" + m.id + "/available"));
    PAY_TRY(Balance(w, engine, "prefunded", "m/" + m.id + "/disbursement"));
    w.EndObject().EndObject();
  }
  w.EndArray();
  return {};
}

void Lists(JsonWriter& w, const Summary& s) {
  Counts(w, "statuses", s.statuses);
  w.Key("payouts").BeginObject();
  Counts(w, "statuses", s.payout_statuses);
  w.Key("recent").BeginArray();
  for (auto it = s.payouts.rbegin(); it != s.payouts.rend(); ++it) PaymentBrief(w, *it);
  w.EndArray().EndObject();
  w.Key("in_doubt").BeginObject().Field("total", static_cast<int64_t>(s.in_doubt_total));
  w.Key("payments").BeginArray();
  for (const PaymentView& p : s.in_doubt) PaymentBrief(w, p);
  w.EndArray().EndObject();
  w.Key("expiring").BeginObject().Field("within_s", kExpiringWithinMs / 1000);
  w.Field("total", static_cast<int64_t>(s.expiring_total)).Key("payments").BeginArray();
  for (const PaymentView& p : s.expiring) PaymentBrief(w, p);
  w.EndArray().EndObject();
  w.Key("settlements").BeginArray();
  size_t listed = 0;
  for (auto it = s.settlements.rbegin(); it != s.settlements.rend() && listed < kSettlementRunsMax;
       ++it, ++listed) {
    const auto& [at, currency] = it->first;
    w.BeginObject().Field("at", FormatRfc3339Ms(at * 1000)).Field("currency", currency);
    w.Field("payments", it->second.payments).Field("net", Amount(it->second.net_minor, currency));
    w.Field("fees", Amount(it->second.fee_minor, currency)).EndObject();
  }
  w.EndArray();
}

Reply Summarize(const Call& c) {
  if (!c.key.admin) return Forbidden("the dashboard needs an admin key");
  auto s = Scan(c.engine);
  if (!s) return ErrorResponse(s.error());
  JsonWriter w;
  w.BeginObject()
      .Field("object", "dashboard_summary")
      .Field("generated_at", FormatRfc3339Ms(s->now_ms));
  w.Field("scanned", static_cast<int64_t>(s->scanned)).Field("truncated", s->truncated);
  w.Field("scan_max", static_cast<int64_t>(kDashboardScanMax));
  if (auto r = Merchants(w, c.engine, *s); !r) return ErrorResponse(r.error());
  Approval(w, *s);
  Lists(w, *s);
  w.EndObject();
  return JsonResponse(w.str());
}

// ---- the books ----------------------------------------------------------------------------------

Reply Verify(const Call& c) {
  if (!c.key.admin) return Forbidden("verifying the ledger needs an admin key");
  auto r = c.engine.Verify();
  if (!r) return ErrorResponse(r.error());
  JsonWriter w;
  w.BeginObject().Field("object", "ledger_verification").Field("ok", r->ok());
  w.Field("entries_checked", r->entries_checked).Field("accounts_checked", r->accounts_checked);
  w.Field("head_hash", r->head_hash_hex).Field("problems_total", r->problems_total);
  w.Key("problems").BeginArray();
  for (size_t i = 0; i < r->problems.size() && i < kVerifyProblemsListedMax; ++i) {
    w.String(r->problems[i]);
  }
  w.EndArray().EndObject();
  return JsonResponse(w.str());
}

Reply Entry(const Call& c) {
  if (!c.key.admin) return Forbidden("reading ledger entries needs an admin key");
  int64_t seq = 0;
  auto [end, ec] = std::from_chars(c.id.data(), c.id.data() + c.id.size(), seq);
  if (ec != std::errc() || end != c.id.data() + c.id.size() || seq < 1) {
    return ErrorResponse(400, ErrorCode::kInvalidArgument, "id: an entry number (1 or more)");
  }
  auto e = c.engine.GetEntry(seq);
  if (!e) return ErrorResponse(e.error());
  return JsonResponse(EntryJson(*e));
}

}  // namespace

Router DashboardPageRoutes() {
  Router r;
  r.Add("GET", "/dashboard", [](const Call&) -> Reply { return Asset("index.html"); });
  r.Add("GET", "/dashboard/{id}", [](const Call& c) -> Reply {
    return Asset(c.id.empty() ? "index.html" : c.id);  // /dashboard/ is the page too
  });
  return r;
}

Router DashboardApiRoutes() {
  Router r;
  r.Add("GET", "/v1/admin/dashboard", Summarize);
  r.Add("GET", "/v1/ledger/verify", Verify);
  r.Add("GET", "/v1/ledger/entries/{id}", Entry);
  return r;
}

}  // namespace pay::server
