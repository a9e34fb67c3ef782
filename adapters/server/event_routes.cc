// Events and webhook endpoints over HTTP (docs/api.md "Events and webhooks"). A merchant key sees
// its merchant's only; an admin key names one with ?merchant= (or sees every merchant's).

#include <charconv>

#include "adapters/requests/requests.h"
#include "adapters/server/routes.h"
#include "adapters/server/webhooks.h"

namespace pay::server {

namespace {

constexpr size_t kEventsLimitDefault = 100;
constexpr size_t kEventsLimitMax = 1000;
constexpr size_t kDeliveriesShown = 100;

std::string Param(const Call& c, const char* name) {
  auto it = c.query.find(name);
  return it == c.query.end() ? std::string() : it->second;
}

// The merchant a call acts for: its key's, or (admin) the one it names, maybe none.
Result<std::string> MerchantOf(const Call& c) {
  std::string merchant = Param(c, "merchant");
  if (c.key.admin) return merchant;
  if (!merchant.empty() && merchant != c.key.merchant) {
    return MakeError(ErrorCode::kForbidden, "forbidden: another merchant's events and endpoints");
  }
  return c.key.merchant;
}

Result<size_t> EventsLimit(const Call& c) {
  const std::string text = Param(c, "limit");
  if (text.empty()) return kEventsLimitDefault;
  size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > kEventsLimitMax) {
    return MakeError(ErrorCode::kInvalidArgument, "limit: an integer from 1 to " + std::to_string(kEventsLimitMax));
  }
  return n;
}

Result<void> CheckEventId(const std::string& id, const char* field) {
  const bool ok = id.size() == 20 && id.starts_with("evt_") &&
                  id.find_first_not_of("0123456789", 4) == std::string::npos;
  if (!ok) return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": an event id (evt_ and 16 digits)");
  return {};
}

Reply ListEvents(const Call& c) {
  auto merchant = MerchantOf(c);
  if (!merchant) return ErrorResponse(merchant.error());
  auto limit = EventsLimit(c);
  if (!limit) return ErrorResponse(limit.error());
  const std::string after = Param(c, "after");
  if (!after.empty()) {
    if (auto ok = CheckEventId(after, "after"); !ok) return ErrorResponse(ok.error());
  }
  auto page = c.engine.ListEvents(*merchant, after, EventFilter{Param(c, "type")}, *limit);
  if (!page) return ErrorResponse(page.error());
  std::vector<std::string> items;
  items.reserve(page->items.size());
  for (const auto& e : page->items) items.push_back(EventJson(e));
  return JsonResponse(requests::ListJson(items, !page->next_after.empty(), page->next_after));
}

// The endpoint the path names, if the caller may manage it.
Result<WebhookEndpoint> ManagedEndpoint(const Call& c) {
  if (c.webhooks == nullptr) return MakeError(ErrorCode::kNotFound, "webhooks: not served by this node");
  auto e = c.webhooks->Find(c.id);
  if (e && !c.key.admin && e->merchant != c.key.merchant) {
    return MakeError(ErrorCode::kNotFound, "endpoint: no webhook endpoint '" + c.id + "'");
  }
  return e;
}

Reply CreateEndpoint(const Call& c) {
  if (c.webhooks == nullptr) return ErrorResponse(MakeError(ErrorCode::kNotFound, "webhooks: not served by this node"));
  auto merchant = MerchantOf(c);
  if (!merchant) return ErrorResponse(merchant.error());
  if (merchant->empty()) return ErrorResponse(400, ErrorCode::kInvalidArgument, "merchant: required with an admin key");
  auto known = c.engine.GetMerchant(*merchant);
  if (!known) return ErrorResponse(known.error());
  std::vector<std::string> types;
  std::string list = Param(c, "enabled_events");
  for (size_t at = 0; !list.empty() && at <= list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    types.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  auto made = c.webhooks->Create(*merchant, Param(c, "url"), std::move(types));
  if (!made) return ErrorResponse(made.error());
  return JsonResponse(WebhookEndpointJson(*made, /*with_secret=*/true));
}

Reply ListEndpoints(const Call& c) {
  if (c.webhooks == nullptr) return ErrorResponse(MakeError(ErrorCode::kNotFound, "webhooks: not served by this node"));
  auto merchant = MerchantOf(c);
  if (!merchant) return ErrorResponse(merchant.error());
  auto list = c.webhooks->List(*merchant);
  if (!list) return ErrorResponse(list.error());
  std::vector<std::string> items;
  for (const auto& e : *list) items.push_back(WebhookEndpointJson(e, false));
  return JsonResponse(requests::ListJson(items, false, ""));
}

Reply ShowEndpoint(const Call& c) {
  auto e = ManagedEndpoint(c);
  if (!e) return ErrorResponse(e.error());
  return JsonResponse(WebhookEndpointJson(*e, false));
}

Reply EnableEndpoint(const Call& c, bool enabled) {
  auto e = ManagedEndpoint(c);
  if (!e) return ErrorResponse(e.error());
  auto changed = c.webhooks->SetEnabled(e->id, enabled);
  if (!changed) return ErrorResponse(changed.error());
  return JsonResponse(WebhookEndpointJson(*changed, false));
}

Reply DeleteEndpoint(const Call& c) {
  auto e = ManagedEndpoint(c);
  if (!e) return ErrorResponse(e.error());
  if (auto r = c.webhooks->Delete(e->id); !r) return ErrorResponse(r.error());
  return JsonResponse(R"({"id":")" + e->id + R"(","deleted":true})");
}

Reply Deliveries(const Call& c) {
  auto e = ManagedEndpoint(c);
  if (!e) return ErrorResponse(e.error());
  auto list = c.webhooks->Deliveries(e->id, kDeliveriesShown);
  if (!list) return ErrorResponse(list.error());
  std::vector<std::string> items;
  for (const auto& a : *list) items.push_back(DeliveryAttemptJson(a));
  return JsonResponse(requests::ListJson(items, false, ""));
}

Reply Redeliver(const Call& c) {
  auto e = ManagedEndpoint(c);
  if (!e) return ErrorResponse(e.error());
  const std::string id = Param(c, "event");
  if (auto ok = CheckEventId(id, "event"); !ok) return ErrorResponse(ok.error());
  auto event = FindEvent(c.engine, e->merchant, id);
  if (!event) return ErrorResponse(event.error());
  if (auto r = c.webhooks->Redeliver(*e, *event); !r) return ErrorResponse(r.error());
  return JsonResponse(R"({"endpoint":")" + e->id + R"(","event":")" + id + R"(","queued":true})");
}

}  // namespace

Router EventRoutes() {
  Router r;
  r.Add("GET", "/v1/events", ListEvents);
  r.Add("GET", "/v1/webhook_endpoints", ListEndpoints);
  r.Add("POST", "/v1/webhook_endpoints", CreateEndpoint);
  r.Add("GET", "/v1/webhook_endpoints/{id}/deliveries", Deliveries);
  r.Add("POST", "/v1/webhook_endpoints/{id}/redeliver", Redeliver);
  r.Add("POST", "/v1/webhook_endpoints/{id}/enable", [](const Call& c) { return EnableEndpoint(c, true); });
  r.Add("POST", "/v1/webhook_endpoints/{id}/disable", [](const Call& c) { return EnableEndpoint(c, false); });
  r.Add("POST", "/v1/webhook_endpoints/{id}/delete", DeleteEndpoint);
  r.Add("GET", "/v1/webhook_endpoints/{id}", ShowEndpoint);
  return r;
}

}  // namespace pay::server
