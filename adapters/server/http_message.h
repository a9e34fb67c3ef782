#pragma once
// The plain data a paymentd session exchanges with the rest of the server: one request in, one
// response out. No Beast or Asio type appears here, so that routes, authentication and the rate
// limit compile without them (docs/architecture.md, "paymentd").

#include <string>
#include <utility>
#include <vector>

#include "pay/engine.h"

namespace pay::server {

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // path and query, as sent
  // The headers the server reads (empty when absent).
  std::string authorization;
  std::string content_type;
  std::string idempotency_key;
  std::string body;
  std::string client_ip;
};

struct HttpResponse {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // a later one replaces an earlier
  // The label of the request in paymentd_requests_total ("POST /v1/payments/authorize",
  // "unauthenticated", ...); empty: the matched route's, or "unknown".
  std::string route;
  // Whether the request carried a valid API key (the connection then gets the full read timeout).
  bool authenticated = false;
};

// The HTTP status of an engine or channel error (docs/api.md, "Statuses").
unsigned StatusOf(const Error& error);
// The error as {"error":{...}} with its status (and Retry-After on a 503).
HttpResponse ErrorResponse(const Error& error);
// The same, with a status of the caller's choosing.
HttpResponse ErrorResponse(unsigned status, ErrorCode code, const std::string& message);
// A 200 with a JSON body.
HttpResponse JsonResponse(std::string body);
// The answer to a committed command: its stored body; a 402 in the error shape when the books
// refused it or the issuer declined the payment (card_declined, the payment inside); with
// Idempotent-Replayed on a replay. Or its error.
HttpResponse ResponseFromOutcome(const Result<Outcome>& outcome);

}  // namespace pay::server
