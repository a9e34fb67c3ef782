#include "adapters/server/routes.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>

#include "adapters/requests/requests.h"
#include "adapters/server/dashboard.h"
#include "core/time_format.h"

namespace pay::server {

namespace {

constexpr size_t kListLimitDefault = 100;
constexpr size_t kListLimitMax = 100;  // a page's cost is bounded (and the read connection shared)
constexpr size_t kHistoryLines = 100;

HttpResponse Forbidden(const std::string& what) {
  return ErrorResponse(403, ErrorCode::kForbidden, "forbidden: " + what);
}

bool IsMerchantAccount(const std::string& account, const std::string& merchant) {
  const std::string prefix = "m/" + merchant + "/";
  return account.compare(0, prefix.size(), prefix) == 0;
}

// ---- reads --------------------------------------------------------------------------------------

// ?limit=: 1 to kListLimitMax, default kListLimitDefault; anything else is an error.
Result<size_t> ParseLimit(const Call& c) {
  if (!c.query.count("limit")) return kListLimitDefault;
  const std::string& text = c.query.at("limit");
  size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > kListLimitMax) {
    return MakeError(ErrorCode::kInvalidArgument, "limit: an integer from 1 to " + std::to_string(kListLimitMax));
  }
  return n;
}

Reply ShowPayment(const Call& c) {
  auto payment = c.engine.GetPayment(c.id);
  if (!payment) return ErrorResponse(payment.error());
  if (!c.key.admin && payment->merchant != c.key.merchant) {  // not this key's
    return ErrorResponse(MakeError(ErrorCode::kPaymentNotFound, "payment_id: no payment '" + c.id + "'"));
  }
  return JsonResponse(PaymentJson(*payment));
}

Reply ListPayments(const Call& c) {
  auto query = [&](const char* name) { return c.query.count(name) ? c.query.at(name) : std::string(); };
  std::string merchant = query("merchant");
  if (!c.key.admin) {
    if (!merchant.empty() && merchant != c.key.merchant) return Forbidden("another merchant's payments");
    merchant = c.key.merchant;
  }
  auto limit = ParseLimit(c);
  if (!limit) return ErrorResponse(limit.error());
  requests::PaymentFilter filter;
  if (c.query.count("status")) {
    auto status = requests::ParsePaymentStatus(c.query.at("status"));
    if (!status) return ErrorResponse(status.error());
    filter.status = *status;
  }
  for (auto [name, bound] : {std::pair{"created_gte", &filter.created_gte_ms}, {"created_lt", &filter.created_lt_ms}}) {
    if (!c.query.count(name)) continue;
    auto ms = requests::ParseTimeMs(c.query.at(name), name);
    if (!ms) return ErrorResponse(ms.error());
    *bound = *ms;
  }
  for (const auto& [name, value] : c.query) {  // metadata[KEY]=VALUE
    if (name.starts_with("metadata[") && name.ends_with("]") && name.size() > 10) {
      filter.metadata.emplace_back(name.substr(9, name.size() - 10), value);
    }
  }
  auto page = requests::ListPayments(c.engine, merchant, query("after"), *limit, filter);
  if (!page) return ErrorResponse(page.error());
  return JsonResponse(requests::PaymentPageJson(*page));
}

// /v1/accounts/{id} without /balance or /history (or with an empty id).
Reply AccountsHint(const Call&) {
  HttpResponse r = ErrorResponse(404, ErrorCode::kNotFound, "path: use /v1/accounts/{id}/balance or /history");
  r.route = "unknown";
  return r;
}

Reply AccountBalance(const Call& c) {
  if (c.id.empty()) return AccountsHint(c);
  if (!c.key.admin && !IsMerchantAccount(c.id, c.key.merchant)) {
    return Forbidden("account '" + c.id + "' is not this key's merchant's");
  }
  auto account = c.engine.GetAccount(c.id);
  if (!account) return ErrorResponse(account.error());
  return JsonResponse(AccountJson(*account));
}

Reply AccountHistory(const Call& c) {
  if (c.id.empty()) return AccountsHint(c);
  if (!c.key.admin && !IsMerchantAccount(c.id, c.key.merchant)) {
    return Forbidden("account '" + c.id + "' is not this key's merchant's");
  }
  auto lines = c.engine.History(c.id, kHistoryLines);
  if (!lines) return ErrorResponse(lines.error());
  return JsonResponse(requests::HistoryJson(c.id, *lines));
}

// ---- writes: the same pay.v1 messages as the transaction files ----------------------------------

// A record from this caller, before its operation is filled in.
v1::Record RecordOf(const Call& c) {
  v1::Record record;
  record.set_client_ip(c.request.client_ip);
  record.set_credential(c.key.id);
  record.set_merchant(c.key.merchant);
  return record;
}

// The record as a command for the writer, under the request's idempotency key.
Reply Submit(const Call& c, v1::Record record) {
  if (c.request.idempotency_key.empty()) {
    return ErrorResponse(400, ErrorCode::kInvalidIdempotencyKey, "Idempotency-Key: the header is required on POST");
  }
  record.set_idempotency_key(c.request.idempotency_key);
  auto command = requests::CommandFromRecord(c.engine, record, Channel::kServer);
  if (!command) return ErrorResponse(command.error());
  return std::move(*command);
}

// A write whose body is the message `field` of the record.
template <typename Message>
Reply Write(const Call& c, Message* (v1::Record::*field)()) {
  v1::Record record = RecordOf(c);
  auto parsed = requests::MessageFromBody(c.request.content_type, c.request.body, (record.*field)());
  if (!parsed) return ErrorResponse(parsed.error());
  return Submit(c, std::move(record));
}

// A write on the payment the path names: the path's id, never a payment key from the body.
template <typename Message>
Reply WriteOnPayment(const Call& c, Message* (v1::Record::*field)()) {
  v1::Record record = RecordOf(c);
  Message* message = (record.*field)();
  auto parsed = requests::MessageFromBody(c.request.content_type, c.request.body, message);
  if (!parsed) return ErrorResponse(parsed.error());
  message->set_payment_id(c.id);
  message->clear_payment_key();
  return Submit(c, std::move(record));
}

Reply CreateMerchant(const Call& c) {
  if (!c.key.admin) return Forbidden("creating merchants needs an admin key");
  v1::Record record = RecordOf(c);
  auto parsed = requests::MessageFromBody(c.request.content_type, c.request.body, record.mutable_create_merchant());
  if (!parsed) return ErrorResponse(parsed.error());
  record.set_merchant(record.create_merchant().id());
  return Submit(c, std::move(record));
}

Reply Fund(const Call& c) {
  if (!c.key.admin) return Forbidden("funding needs an admin key");
  if (!c.query.count("merchant")) {
    return ErrorResponse(400, ErrorCode::kInvalidArgument, "merchant: the query parameter ?merchant=ID is required");
  }
  v1::Record record = RecordOf(c);
  record.set_merchant(c.query.at("merchant"));
  auto parsed = requests::MessageFromBody(c.request.content_type, c.request.body, record.mutable_fund());
  if (!parsed) return ErrorResponse(parsed.error());
  return Submit(c, std::move(record));
}

// ---- the sweeps, for an operator (admin key): the same as paymentctl settle, payment expire and
// payment resolve ------------------------------------------------------------------------------

Reply AdminSettle(const Call& c) {
  if (!c.key.admin) return Forbidden("settlement needs an admin key");
  auto r = c.engine.Settle();
  if (!r) return ErrorResponse(r.error());
  return JsonResponse(requests::SettleJson(*r));
}

Reply AdminResolve(const Call& c, bool expire) {
  if (!c.key.admin) return Forbidden("resolving payments needs an admin key");
  size_t expired = 0;
  if (expire) {
    auto n = c.engine.ExpirePayments(SIZE_MAX);
    if (!n) return ErrorResponse(n.error());
    expired = *n;
  }
  auto left = c.engine.ResolvePending();
  if (!left) return ErrorResponse(left.error());
  return JsonResponse(requests::ResolveJson(expired, *left));
}

// ---- API keys: an admin key manages every key; a merchant key lists, revokes and rolls its
// merchant's ------------------------------------------------------------------------------------

std::string Query(const Call& c, const char* name) { return c.query.count(name) ? c.query.at(name) : std::string(); }

// The key a route names, if the caller may manage it (another merchant's is "not found").
Result<ApiKey> ManagedKey(const Call& c) {
  auto key = c.keys->Find(c.id);
  if (key && !c.key.admin && (key->admin || key->merchant != c.key.merchant)) {
    return MakeError(ErrorCode::kNotFound, "apikey: no API key '" + c.id + "'");
  }
  return key;
}

Reply ListApiKeys(const Call& c) {
  std::string merchant = Query(c, "merchant");
  if (!c.key.admin) {
    if (!merchant.empty() && merchant != c.key.merchant) return Forbidden("another merchant's keys");
    merchant = c.key.merchant;
  }
  auto limit = ParseLimit(c);
  if (!limit) return ErrorResponse(limit.error());
  auto list = c.keys->List(merchant, Query(c, "after"), *limit + 1);
  if (!list) return ErrorResponse(list.error());
  const bool more = list->size() > *limit;
  if (more) list->pop_back();
  std::vector<std::string> items;
  for (const auto& k : *list) items.push_back(ApiKeyJson(k));
  return JsonResponse(requests::ListJson(items, more, list->empty() ? "" : list->back().id));
}

Reply CreateApiKey(const Call& c) {
  if (!c.key.admin) return Forbidden("creating API keys needs an admin key");
  ApiKey like;
  like.admin = Query(c, "admin") == "true";
  like.merchant = Query(c, "merchant");
  like.mode = c.query.count("mode") ? c.query.at("mode") : "test";
  auto made = c.keys->Create(like.merchant, like.admin, like.mode);
  if (!made) return ErrorResponse(made.error());
  return JsonResponse(NewKeyJson(*made, like));
}

Reply RevokeApiKey(const Call& c) {
  auto key = ManagedKey(c);
  if (!key) return ErrorResponse(key.error());
  if (auto r = c.keys->Revoke(c.id); !r) return ErrorResponse(r.error());
  return JsonResponse(ApiKeyJson(*key));
}

Reply RollApiKey(const Call& c) {
  auto key = ManagedKey(c);
  if (!key) return ErrorResponse(key.error());
  const std::string text = c.query.count("expires_in") ? c.query.at("expires_in") : "24h";
  auto grace = text == "0" ? Result<int64_t>(0) : ParseDurationMs(text, "expires_in");
  if (!grace) return ErrorResponse(grace.error());
  auto rolled = c.keys->Roll(c.id, *grace);
  if (!rolled) return ErrorResponse(rolled.error());
  return JsonResponse(NewKeyJson(rolled->key, *key, c.id, rolled->old_expires_at_ms));
}

Reply Authorize(const Call& c) { return Write(c, &v1::Record::mutable_authorize); }
Reply Disburse(const Call& c) { return Write(c, &v1::Record::mutable_push); }
Reply P2p(const Call& c) { return Write(c, &v1::Record::mutable_p2p); }
Reply Capture(const Call& c) { return WriteOnPayment(c, &v1::Record::mutable_capture); }
Reply VoidPayment(const Call& c) { return WriteOnPayment(c, &v1::Record::mutable_void_payment); }
Reply Refund(const Call& c) { return WriteOnPayment(c, &v1::Record::mutable_refund); }
Reply Increment(const Call& c) { return WriteOnPayment(c, &v1::Record::mutable_increment); }

}  // namespace

Router PublicRoutes(const MetricsRegistry& metrics) {
  Router r;
  r.Add("*", "/healthz", [](const Call&) -> Reply { return JsonResponse(R"({"status":"ok"})"); });
  r.Add("*", "/metrics", [&metrics](const Call&) -> Reply {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = metrics.Text();
    return response;
  });
  r.Append(DashboardPageRoutes());
  return r;
}

std::vector<std::string> RouteTable() {
  const MetricsRegistry unused;
  std::vector<std::string> out;
  for (const Router& r : {PublicRoutes(unused), ApiRoutes()}) {
    for (const Route& route : r.routes()) out.push_back(route.method + " " + route.pattern);
  }
  return out;
}

Router ApiRoutes() {
  Router r;
  r.Add("GET", "/v1/payments", ListPayments);
  r.Add("GET", "/v1/payments/{id}", ShowPayment);
  r.Add("GET", "/v1/accounts/{id}/balance", AccountBalance);
  r.Add("GET", "/v1/accounts/{id}/history", AccountHistory);
  r.Add("GET", "/v1/accounts/{id}", AccountsHint);
  r.Add("POST", "/v1/merchants", CreateMerchant);
  r.Add("POST", "/v1/funding", Fund);
  r.Add("POST", "/v1/payments/authorize", Authorize);
  r.Add("POST", "/v1/payments/{id}/capture", Capture);
  r.Add("POST", "/v1/payments/{id}/void", VoidPayment);
  r.Add("POST", "/v1/payments/{id}/refund", Refund);
  r.Add("POST", "/v1/payments/{id}/increment", Increment);
  r.Add("POST", "/v1/disbursements", Disburse);
  r.Add("POST", "/v1/p2p", P2p);
  r.Add("GET", "/v1/apikeys", ListApiKeys);
  r.Add("POST", "/v1/apikeys", CreateApiKey);
  r.Add("POST", "/v1/apikeys/{id}/revoke", RevokeApiKey);
  r.Add("POST", "/v1/apikeys/{id}/roll", RollApiKey);
  r.Add("POST", "/v1/admin/settle", AdminSettle);
  r.Add("POST", "/v1/admin/expire", [](const Call& c) { return AdminResolve(c, true); });
  r.Add("POST", "/v1/admin/resolve", [](const Call& c) { return AdminResolve(c, false); });
  r.Append(DashboardApiRoutes());
  r.Append(EventRoutes());
  return r;
}

}  // namespace pay::server
