#pragma once
// The Stripe-compatible facade of paymentd (docs/stripe-compat.md): Stripe's own paths under
// /v1/ (payment_intents, refunds, payouts, balance), form-encoded bodies, Stripe's object and
// error shapes, so that code written against Stripe's client libraries runs unchanged against
// this engine. Underneath it is the same engine, guards and ledger as the native API: a
// PaymentIntent is a card payment (pi_X is pay_X), a refund is one of its refund steps
// (re_X_N: the Nth), a payout is a push payment (po_X).
//
// stripe_routes.cc has the handlers, stripe_objects.cc the objects and errors they answer with.

#include <optional>
#include <string>
#include <string_view>

#include "adapters/server/form.h"
#include "adapters/server/router.h"

namespace pay::server::stripe {

// The facade's routes, appended to the native table (they share no path with it).
Router Routes();

// ---- objects (stripe_objects.cc) ----------------------------------------------------------------

// What an answer knows beyond the payment itself: the request's mode and the parameters the
// engine does not keep.
struct Context {
  bool livemode = false;
  std::string capture_method;       // "manual"/"automatic"; empty: inferred from the payment
  std::string cancellation_reason;  // as the cancel request gave it
};

// Ids: pay_X <-> pi_X / po_X; re_X_N names the Nth refund step of pay_X.
std::string ObjectId(std::string_view prefix, std::string_view payment_id);
// The payment id an object id names, or invalid_request_error naming `param`.
Result<std::string> PaymentIdOf(std::string_view object_id, std::string_view prefix, std::string_view param);
struct RefundRef {
  std::string payment_id;
  size_t n = 0;  // 1-based among the payment's refund steps
};
Result<RefundRef> RefundRefOf(std::string_view refund_id);

std::string PaymentIntentJson(const PaymentView& p, const Context& ctx);
// requires_capture, succeeded, canceled, requires_payment_method (declined) or processing.
std::string_view IntentStatus(const PaymentView& p);
// The Nth refund step (1-based) of `p`; nullopt when it has fewer.
std::optional<std::string> RefundJson(const PaymentView& p, size_t n, bool livemode);
size_t RefundCount(const PaymentView& p);
std::string PayoutJson(const PaymentView& p, bool livemode);
// {"object":"list","data":[...],"has_more":..,"url":..}
std::string ListJson(const std::vector<std::string>& items, bool has_more, std::string_view url);

// The payment in an outcome's body (the engine's canonical payment JSON).
Result<PaymentView> PaymentFromBody(const std::string& body);

// A currency code as Stripe writes it ("USD" -> "usd").
std::string StripeCurrency(std::string_view code);

// ---- errors -------------------------------------------------------------------------------------

// {"error":{"type","code","message"[,"param"][,"decline_code"][,"payment_intent"]...}}
HttpResponse ErrorAnswer(unsigned status, std::string_view type, std::string_view code,
                         const std::string& message, std::string_view param = {});
// An engine or channel error in Stripe's terms: input errors are invalid_request_error (400)
// with the param, a reused key idempotency_error (400), a key in flight 409, velocity refusals
// card_error (402, card_velocity_exceeded), refusals by the books invalid_request_error (400;
// balance_insufficient for an overdraft), ours api_error.
HttpResponse ErrorAnswer(const Error& error);
// A payment the issuer declined: card_error (402) with the code and decline_code Stripe gives
// for the response code, and the object (payment_intent or payout) inside.
HttpResponse DeclineAnswer(const PaymentView& p, const Context& ctx);
// The Stripe error of an issuer's response code: {code, decline_code, message}.
struct DeclineCodes {
  std::string code, decline_code, message;
};
DeclineCodes DeclineOf(std::string_view response_code);

}  // namespace pay::server::stripe
