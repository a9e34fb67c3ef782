#include "adapters/server/http_message.h"

#include "adapters/requests/requests.h"

namespace pay::server {

unsigned StatusOf(const Error& e) {
  switch (e.code) {
    case ErrorCode::kIdempotencyKeyReused: return 422;
    case ErrorCode::kIdempotencyKeyInFlight: return 409;
    case ErrorCode::kPaymentInDoubt: return 409;
    case ErrorCode::kUnknownAccount:
    case ErrorCode::kEntryNotFound:
    case ErrorCode::kPaymentNotFound:
    case ErrorCode::kUnknownMerchant:
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kMethodNotAllowed: return 405;
    case ErrorCode::kCardDeclined: return 402;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kVelocityLimited: return 402;  // a payment result, not a request-rate limit
    case ErrorCode::kNetworkTimeout:
    case ErrorCode::kNetworkUnavailable:
    case ErrorCode::kStoreBusy: return 503;
    default: break;
  }
  switch (ErrorRetryAdvice(e.code)) {
    case RetryAdvice::kFixInput: return 400;
    case RetryAdvice::kDoNotRetry: return 402;
    case RetryAdvice::kRetrySameKey: return 503;
    case RetryAdvice::kContactOperator: return 500;
  }
  return 500;
}

HttpResponse ErrorResponse(const Error& e) {
  HttpResponse r;
  r.status = StatusOf(e);
  r.body = requests::ErrorJson(e);
  if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse ErrorResponse(unsigned status, ErrorCode code, const std::string& message) {
  HttpResponse r = ErrorResponse(MakeError(code, message));
  r.status = status;
  return r;
}

HttpResponse JsonResponse(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse ResponseFromOutcome(const Result<Outcome>& r) {
  if (!r) return ErrorResponse(r.error());
  HttpResponse out;
  if (r->declined) {  // refused by the books: stored under the key like any outcome
    out = ErrorResponse(r->decline);
    out.status = 402;
  } else if (r->payment_status == "declined") {  // by the issuer: the payment is recorded
    Error e = MakeError(ErrorCode::kCardDeclined,
                        "card: payment " + r->payment_id + " was declined by the issuer (" +
                            DescribeResponseCode(r->response_code).reason + ")");
    e.response_code = r->response_code;
    out.status = 402;
    out.body = requests::ErrorJson(e, r->body);
  } else {
    out = JsonResponse(r->body);
  }
  if (r->replayed) out.headers.emplace_back("Idempotent-Replayed", "true");
  return out;
}

}  // namespace pay::server
