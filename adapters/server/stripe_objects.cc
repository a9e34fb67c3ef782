// Stripe's objects and errors, rendered from the engine's payments (adapters/server/stripe.h).

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "adapters/requests/requests.h"
#include "adapters/server/stripe.h"
#include "core/json_writer.h"
#include "core/time_format.h"

namespace pay::server::stripe {

namespace {

constexpr std::string_view kNativePrefix = "pay_";

int64_t Seconds(int64_t ms) { return ms / 1000; }

// When the payment last took step `op` (0: never).
int64_t LastStepAt(const PaymentView& p, std::initializer_list<std::string_view> ops) {
  int64_t at = 0;
  for (const auto& step : p.history) {
    for (std::string_view op : ops) {
      if (step.op == op) at = step.at_ms;
    }
  }
  return at;
}

}  // namespace

std::string_view IntentStatus(const PaymentView& p) {
  switch (p.status) {
    case PaymentStatus::kAuthorized: return "requires_capture";
    case PaymentStatus::kPartiallyCaptured: return p.capturable_minor > 0 ? "requires_capture" : "succeeded";
    case PaymentStatus::kDeclined: return "requires_payment_method";
    case PaymentStatus::kCaptured:
    case PaymentStatus::kRefunded:
    case PaymentStatus::kPartiallyRefunded:
    case PaymentStatus::kSettled: return "succeeded";
    case PaymentStatus::kVoided:
    case PaymentStatus::kExpired:
    case PaymentStatus::kReversed: return "canceled";
    default: return "processing";  // on its way, or in doubt until its reversal is answered
  }
}

namespace {

std::string_view PayoutStatus(const PaymentView& p) {
  switch (p.status) {
    case PaymentStatus::kCompleted: return "paid";
    case PaymentStatus::kPendingCredit: return "in_transit";
    case PaymentStatus::kDeclined:
    case PaymentStatus::kReversed: return "failed";
    default: return "pending";
  }
}

void Metadata(JsonWriter& w, const PaymentView& p) {
  w.Key("metadata").BeginObject();
  for (const auto& [k, v] : p.metadata) w.Field(k, v);
  w.EndObject();
}

void OptionalString(JsonWriter& w, std::string_view key, std::string_view value) {
  w.Key(key);
  if (value.empty()) {
    w.Null();
  } else {
    w.String(value);
  }
}

// A card's stable id in Stripe's terms (its fingerprint is the engine's, never the number).
std::string CardObjectId(std::string_view prefix, const CardSummary& card) {
  return std::string(prefix) + card.fingerprint.substr(0, 24);
}

void LastPaymentError(JsonWriter& w, const PaymentView& p) {
  w.Key("last_payment_error");
  if (p.status != PaymentStatus::kDeclined) {
    w.Null();
    return;
  }
  const DeclineCodes d = DeclineOf(p.response_code);
  w.BeginObject().Field("type", "card_error").Field("code", d.code).Field("decline_code", d.decline_code);
  w.Field("message", d.message).EndObject();
}

std::string CaptureMethod(const PaymentView& p, const Context& ctx) {
  if (!ctx.capture_method.empty()) return ctx.capture_method;
  // Not kept by the engine: a payment captured in full within a second of its authorization was
  // captured by its create call.
  const int64_t captured_at = LastStepAt(p, {"capture"});
  const bool at_once = captured_at != 0 && captured_at - p.created_at_ms < 1000 &&
                       p.captured_minor == p.authorized_minor;
  return at_once ? "automatic" : "manual";
}

std::string CancellationReason(const PaymentView& p, const Context& ctx) {
  if (IntentStatus(p) != "canceled") return {};
  if (!ctx.cancellation_reason.empty()) return ctx.cancellation_reason;
  return p.status == PaymentStatus::kExpired ? "automatic" : "";
}

}  // namespace

std::string StripeCurrency(std::string_view code) {
  std::string out(code);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ObjectId(std::string_view prefix, std::string_view payment_id) {
  if (payment_id.starts_with(kNativePrefix)) payment_id.remove_prefix(kNativePrefix.size());
  return std::string(prefix) + std::string(payment_id);
}

Result<std::string> PaymentIdOf(std::string_view object_id, std::string_view prefix, std::string_view param) {
  if (!object_id.starts_with(prefix) || object_id.size() == prefix.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(param) + ": '" + std::string(object_id.substr(0, 64)) + "' is not an id of the form " +
                         std::string(prefix) + "...");
  }
  return std::string(kNativePrefix) + std::string(object_id.substr(prefix.size()));
}

Result<RefundRef> RefundRefOf(std::string_view refund_id) {
  const size_t sep = refund_id.rfind('_');
  RefundRef ref;
  if (refund_id.starts_with("re_") && sep > 3) {
    const std::string_view n = refund_id.substr(sep + 1);
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), ref.n);
    if (ec == std::errc() && end == n.data() + n.size() && ref.n > 0) {
      ref.payment_id = std::string(kNativePrefix) + std::string(refund_id.substr(3, sep - 3));
      return ref;
    }
  }
  return MakeError(ErrorCode::kNotFound, "refund: no such refund '" + std::string(refund_id.substr(0, 64)) + "'");
}

std::string PaymentIntentJson(const PaymentView& p, const Context& ctx) {
  JsonWriter w;
  w.BeginObject().Field("id", ObjectId("pi_", p.id)).Field("object", "payment_intent");
  w.Field("amount", p.amount_minor).Field("amount_capturable", p.capturable_minor);
  w.Field("amount_received", p.captured_minor);
  const std::string_view status = IntentStatus(p);
  const int64_t canceled_at = status == "canceled" ? LastStepAt(p, {"void", "expire", "reversal"}) : 0;
  w.Key("canceled_at");
  canceled_at ? w.Int(Seconds(canceled_at)) : w.Null();
  OptionalString(w, "cancellation_reason", CancellationReason(p, ctx));
  w.Field("capture_method", CaptureMethod(p, ctx)).Field("confirmation_method", "automatic");
  w.Field("created", Seconds(p.created_at_ms)).Field("currency", StripeCurrency(p.currency));
  OptionalString(w, "description", p.description);
  LastPaymentError(w, p);
  w.Key("latest_charge").Null();
  w.Field("livemode", ctx.livemode);
  Metadata(w, p);
  w.Field("payment_method", CardObjectId("pm_", p.card));
  w.Key("payment_method_types").BeginArray().String("card").EndArray();
  w.Field("status", status);
  w.EndObject();
  return w.str();
}

size_t RefundCount(const PaymentView& p) {
  size_t n = 0;
  for (const auto& step : p.history) n += step.op == "refund";
  return n;
}

std::optional<std::string> RefundJson(const PaymentView& p, size_t n, bool livemode) {
  size_t seen = 0;
  for (const auto& step : p.history) {
    if (step.op != "refund" || ++seen != n) continue;
    JsonWriter w;
    w.BeginObject().Field("id", ObjectId("re_", p.id) + "_" + std::to_string(n)).Field("object", "refund");
    w.Field("amount", step.amount_minor).Key("charge").Null();
    w.Field("created", Seconds(step.at_ms)).Field("currency", StripeCurrency(p.currency));
    w.Field("livemode", livemode).Key("metadata").BeginObject().EndObject();
    w.Field("payment_intent", ObjectId("pi_", p.id)).Key("reason").Null();
    w.Field("status", "succeeded").EndObject();
    return w.str();
  }
  return std::nullopt;
}

std::string PayoutJson(const PaymentView& p, bool livemode) {
  JsonWriter w;
  w.BeginObject().Field("id", ObjectId("po_", p.id)).Field("object", "payout");
  w.Field("amount", p.amount_minor).Field("arrival_date", Seconds(p.created_at_ms));
  w.Field("automatic", false).Field("created", Seconds(p.created_at_ms)).Field("currency", StripeCurrency(p.currency));
  OptionalString(w, "description", p.description);
  w.Field("destination", CardObjectId("card_", p.card));
  const std::string_view status = PayoutStatus(p);
  if (status == "failed") {
    const DeclineCodes d = DeclineOf(p.response_code);
    w.Field("failure_code", "declined").Field("failure_message", d.message);
  } else {
    w.Key("failure_code").Null().Key("failure_message").Null();
  }
  w.Field("livemode", livemode);
  Metadata(w, p);
  w.Field("method", "instant").Field("source_type", "card").Field("status", status).Field("type", "card");
  w.EndObject();
  return w.str();
}

std::string ListJson(const std::vector<std::string>& items, bool has_more, std::string_view url) {
  JsonWriter w;
  w.BeginObject().Field("object", "list").Key("data").BeginArray();
  for (const auto& item : items) w.Raw(item);
  w.EndArray().Field("has_more", has_more).Field("url", url).EndObject();
  return w.str();
}

// ---- the payment in an outcome's body -----------------------------------------------------------

namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

std::string Str(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? std::string() : it->second.string_value();
}

int64_t Num(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? 0 : static_cast<int64_t>(it->second.number_value());  // < 2^53
}

int64_t TimeMs(const Struct& s, const std::string& key) {
  auto ms = ParseRfc3339Ms(Str(s, key), key);
  return ms ? *ms : 0;
}

PaymentKind KindOf(std::string_view name) {
  for (PaymentKind k : {PaymentKind::kPush, PaymentKind::kFunding, PaymentKind::kP2p}) {
    if (PaymentKindName(k) == name) return k;
  }
  return PaymentKind::kPull;
}

}  // namespace

Result<PaymentView> PaymentFromBody(const std::string& body) {
  Struct s;
  if (!google::protobuf::util::JsonStringToMessage(body, &s).ok()) {
    return MakeError(ErrorCode::kInternal, "answer: not a payment");
  }
  PaymentView p;
  p.id = Str(s, "payment_id");
  p.merchant = Str(s, "merchant");
  auto status = requests::ParsePaymentStatus(Str(s, "status"));
  if (p.id.empty() || !status) return MakeError(ErrorCode::kInternal, "answer: not a payment");
  p.status = *status;
  p.kind = KindOf(Str(s, "type"));
  p.response_code = Str(s, "response_code");
  p.currency = Str(s, "currency");
  p.amount_minor = Num(s, "amount_minor");
  p.authorized_minor = Num(s, "authorized_minor");
  p.captured_minor = Num(s, "captured_minor");
  p.refunded_minor = Num(s, "refunded_minor");
  p.capturable_minor = Num(s, "capturable_minor");
  p.description = Str(s, "description");
  p.created_at_ms = TimeMs(s, "created_at");
  if (auto it = s.fields().find("card"); it != s.fields().end()) {
    const Struct& card = it->second.struct_value();
    p.card = {Str(card, "fingerprint"), Str(card, "bin"), Str(card, "last4")};
  }
  if (auto it = s.fields().find("metadata"); it != s.fields().end()) {
    for (const auto& [k, v] : it->second.struct_value().fields()) p.metadata.emplace_back(k, v.string_value());
    std::sort(p.metadata.begin(), p.metadata.end());
  }
  if (auto it = s.fields().find("history"); it != s.fields().end()) {
    for (const Value& v : it->second.list_value().values()) {
      const Struct& step = v.struct_value();
      p.history.push_back({Str(step, "op"), Num(step, "amount_minor"), Str(step, "response_code"),
                           Str(step, "stan"), Num(step, "entry_id"), TimeMs(step, "at")});
    }
  }
  return p;
}

// ---- errors -------------------------------------------------------------------------------------

HttpResponse ErrorAnswer(unsigned status, std::string_view type, std::string_view code,
                         const std::string& message, std::string_view param) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Field("type", type).Field("code", code).Field("message", message);
  if (!param.empty()) w.Field("param", param);
  w.EndObject().EndObject();
  HttpResponse r;
  r.status = status;
  r.body = w.str();
  return r;
}

namespace {

// The field an input error names first ("amount: ..." -> "amount").
std::string ParamOf(const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos || colon == 0 || colon > 64) return {};
  const std::string name = message.substr(0, colon);
  if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_[]") != std::string::npos) return {};
  return name == "body" ? "" : name;
}

}  // namespace

HttpResponse ErrorAnswer(const Error& e) {
  const std::string_view type = requests::ErrorType(e.code);
  switch (e.code) {
    case ErrorCode::kIdempotencyKeyReused:
      return ErrorAnswer(400, "idempotency_error", e.name(),
                         "Keys for idempotent requests can only be used with the same parameters they "
                         "were first used with (" + e.message + ")");
    case ErrorCode::kIdempotencyKeyInFlight: {
      HttpResponse r = ErrorAnswer(409, "invalid_request_error", "idempotency_key_in_use", e.message);
      r.headers.emplace_back("Stripe-Should-Retry", "true");
      return r;
    }
    case ErrorCode::kVelocityLimited: {
      HttpResponse r = ErrorAnswer(402, "card_error", "card_declined", e.message);
      JsonWriter w;  // the same error with the decline code and the rule
      w.BeginObject().Key("error").BeginObject().Field("type", "card_error").Field("code", "card_declined");
      w.Field("decline_code", "card_velocity_exceeded").Field("message", e.message);
      if (!e.rule.empty()) w.Field("rule", e.rule);
      if (e.retry_after_ms > 0) w.Field("retry_after_ms", e.retry_after_ms);
      w.EndObject().EndObject();
      r.body = w.str();
      return r;
    }
    case ErrorCode::kIllegalTransition:
      return ErrorAnswer(400, "invalid_request_error", "payment_intent_unexpected_state", e.message);
    case ErrorCode::kPaymentNotFound:
      return ErrorAnswer(404, "invalid_request_error", "resource_missing", e.message, ParamOf(e.message));
    case ErrorCode::kUnknownMerchant:  // the merchant is the key's: what it lacks is the currency
      return ErrorAnswer(400, "invalid_request_error", "parameter_invalid", e.message, ParamOf(e.message));
    case ErrorCode::kOverdraft:
      return ErrorAnswer(400, "invalid_request_error", "balance_insufficient", e.message);
    default: break;
  }
  const unsigned status = StatusOf(e);
  if (type == "invalid_request_error") return ErrorAnswer(status, type, e.name(), e.message, ParamOf(e.message));
  if (type == "ledger_error") return ErrorAnswer(400, "invalid_request_error", e.name(), e.message);
  if (type == "permission_error") return ErrorAnswer(403, "invalid_request_error", e.name(), e.message);
  HttpResponse r = ErrorAnswer(status, type, e.name(), e.message);
  if (status >= 500) r.headers.emplace_back("Stripe-Should-Retry", "true");
  return r;
}

DeclineCodes DeclineOf(std::string_view response_code) {
  const ResponseCodeMeaning m = DescribeResponseCode(response_code);
  DeclineCodes d{"card_declined", m.decline_code, "Your card was declined (" + m.reason + ")."};
  if (response_code == "05") d.decline_code = "generic_decline";
  if (response_code == "54") d = {"expired_card", "expired_card", "Your card has expired."};
  if (response_code == "96") d = {"processing_error", "processing_error", "An error occurred while processing your card."};
  if (response_code == "14") d = {"incorrect_number", "incorrect_number", "Your card number is incorrect."};
  return d;
}

HttpResponse DeclineAnswer(const PaymentView& p, const Context& ctx) {
  const DeclineCodes d = DeclineOf(p.response_code);
  const bool payout = p.kind != PaymentKind::kPull;
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Field("type", "card_error").Field("code", d.code);
  w.Field("decline_code", d.decline_code).Field("message", d.message);
  if (payout) {
    w.Key("payout").Raw(PayoutJson(p, ctx.livemode));
  } else {
    w.Key("payment_intent").Raw(PaymentIntentJson(p, ctx));
  }
  w.EndObject().EndObject();
  HttpResponse r;
  r.status = 402;
  r.body = w.str();
  return r;
}

}  // namespace pay::server::stripe
