#pragma once
// The request path of paymentd, in order (one closed chain, no Beast or Asio):
//   public route (/healthz, /metrics) -> only /v1/ beyond -> authenticator (401) ->
//   rate limiter (429) -> route table (404/405) -> handler -> an answer now, or the handler's
//   command to the writer, answered after its commit.
//
// Threading: Handle may be called from any I/O thread.

#include <functional>
#include <optional>

#include "adapters/server/authenticator.h"
#include "adapters/server/http_message.h"
#include "adapters/server/metrics.h"
#include "adapters/server/rate_limiter.h"
#include "adapters/server/router.h"
#include "adapters/server/writer.h"

namespace pay::server {

class Dispatcher {
 public:
  // Every argument must outlive the dispatcher.
  Dispatcher(Engine& engine, ApiKeys& keys, Authenticator& authenticator, RateLimiter& limiter,
             RateLimiter& auth_failures, Writer& writer, MetricsRegistry& metrics);

  // The answer now; or nullopt, and `later` gets it (once, from the writer thread) after the
  // request's command is committed.
  std::optional<HttpResponse> Handle(const HttpRequest& request, Writer::Deliver later);

  // Webhook endpoints for the API routes (set before the server starts; nullptr: none).
  void set_webhooks(Webhooks* webhooks) { webhooks_ = webhooks; }

 private:
  std::optional<HttpResponse> Authorized(const HttpRequest& request, std::string_view path,
                                         const ApiKey& key, Writer::Deliver later);
  HttpResponse RateLimited(const RateLimiter::Decision& decision);
  HttpResponse FailuresLimited(const RateLimiter::Decision& decision);

  Engine& engine_;
  ApiKeys& keys_;
  Authenticator& authenticator_;
  RateLimiter& limiter_;
  RateLimiter& auth_failures_;  // per client address
  Writer& writer_;
  MetricsRegistry& metrics_;
  Webhooks* webhooks_ = nullptr;
  const Router public_;
  const Router api_;
};

}  // namespace pay::server
