#include "adapters/server/dispatcher.h"

#include "adapters/server/routes.h"
#include "adapters/server/stripe.h"

namespace pay::server {

namespace {

constexpr size_t kPathEchoBytesMax = 128;  // of a path quoted in an error message

HttpResponse Labelled(HttpResponse response, const std::string& route) {
  if (response.route.empty()) response.route = route;
  return response;
}

HttpResponse NoRoute(std::string_view path) {
  return Labelled(ErrorResponse(404, ErrorCode::kNotFound,
                                "path: no route " + std::string(path.substr(0, kPathEchoBytesMax))),
                  "unknown");
}

// 405 when the path is served for other methods (which Allow names), else 404.
HttpResponse NoMethod(const Router& router, std::string_view method, std::string_view path) {
  const std::vector<std::string> methods = router.MethodsFor(path);
  if (methods.empty()) return NoRoute(path);
  std::string allow;
  for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
  HttpResponse r = ErrorResponse(405, ErrorCode::kMethodNotAllowed,
                                 "method: " + std::string(method.substr(0, 16)) + " is not allowed on " +
                                     std::string(path.substr(0, kPathEchoBytesMax)) + " (" + allow + ")");
  r.headers.emplace_back("Allow", allow);
  return Labelled(std::move(r), "unknown");
}

}  // namespace

Dispatcher::Dispatcher(Engine& engine, ApiKeys& keys, Authenticator& authenticator,
                       RateLimiter& limiter, RateLimiter& auth_failures, Writer& writer,
                       MetricsRegistry& metrics)
    : engine_(engine),
      keys_(keys),
      authenticator_(authenticator),
      limiter_(limiter),
      auth_failures_(auth_failures),
      writer_(writer),
      metrics_(metrics),
      public_(PublicRoutes(metrics)),
      api_(ApiRoutes().Append(stripe::Routes())) {}

std::optional<HttpResponse> Dispatcher::Handle(const HttpRequest& request, Writer::Deliver later) {
  const std::string_view target(request.target);
  const std::string_view path = target.substr(0, target.find('?'));
  if (auto match = public_.Find(request.method, path)) {
    static const ApiKey kNobody;
    static const std::map<std::string, std::string> kNoQuery;
    Reply reply = match->route->handler(Call{request, engine_, kNobody, kNoQuery, match->id});
    return Labelled(std::get<HttpResponse>(std::move(reply)), match->route->label());
  }
  if (!path.starts_with("/v1/")) return NoRoute(path);

  // An address past its failed authentications is refused before its key is even looked at.
  if (const auto f = auth_failures_.Peek(request.client_ip); !f.allowed) return FailuresLimited(f);
  auto key = authenticator_.Authenticate(request.authorization);
  if (!key) {
    HttpResponse r = ErrorResponse(key.error());
    if (key.error().code != ErrorCode::kUnauthenticated) return Labelled(std::move(r), "unknown");
    auth_failures_.Check(request.client_ip);
    r.headers.emplace_back("WWW-Authenticate", Authenticator::Challenge(request.authorization));
    return Labelled(std::move(r), "unauthenticated");
  }
  // Request rate per key, before the idempotency layer.
  const auto rate = limiter_.Check(key->id);
  auto out = rate.allowed ? Authorized(request, path, *key, std::move(later))
                          : std::optional<HttpResponse>(RateLimited(rate));
  if (out) out->authenticated = true;
  return out;
}

std::optional<HttpResponse> Dispatcher::Authorized(const HttpRequest& request, std::string_view path,
                                                   const ApiKey& key, Writer::Deliver later) {
  auto match = api_.Find(request.method, path);
  if (!match) return NoMethod(api_, request.method, path);
  const size_t qmark = request.target.find('?');
  const auto query = ParseQuery(qmark == std::string::npos ? std::string_view()
                                                           : std::string_view(request.target).substr(qmark + 1));
  const std::string route = match->route->label();
  Reply reply = match->route->handler(Call{request, engine_, key, query, std::move(match->id), &keys_, webhooks_});
  if (auto* response = std::get_if<HttpResponse>(&reply)) return Labelled(std::move(*response), route);
  auto refused = std::holds_alternative<Command>(reply)
                     ? writer_.Submit(std::get<Command>(std::move(reply)), route, std::move(later))
                     : writer_.Submit(std::get<Followup>(std::move(reply)), route, std::move(later));
  if (refused) return Labelled(std::move(*refused), route);
  return std::nullopt;
}

HttpResponse Dispatcher::FailuresLimited(const RateLimiter::Decision& decision) {
  ++metrics_.rate_limited;
  const std::string seconds = std::to_string((decision.retry_after_ms + 999) / 1000);
  HttpResponse r = ErrorResponse(429, ErrorCode::kRateLimited,
                                 "authentication: too many failed attempts from this address; "
                                 "retry after " + seconds + " s");
  r.headers.emplace_back("Retry-After", seconds);
  r.route = "rate_limited";
  return r;
}

HttpResponse Dispatcher::RateLimited(const RateLimiter::Decision& decision) {
  ++metrics_.rate_limited;
  HttpResponse r = ErrorResponse(429, ErrorCode::kRateLimited, "rate: more than the API key's request rate");
  const std::string seconds = std::to_string((decision.retry_after_ms + 999) / 1000);
  r.headers.emplace_back("Retry-After", seconds);
  r.headers.emplace_back("RateLimit-Limit", std::to_string(limiter_.burst()));
  r.headers.emplace_back("RateLimit-Remaining", "0");
  r.headers.emplace_back("RateLimit-Reset", seconds);
  r.route = "rate_limited";
  return r;
}

}  // namespace pay::server
