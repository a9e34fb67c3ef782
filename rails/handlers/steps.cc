// Helpers every handler shares: outcomes of payments, online steps, claims, derived refs.

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/limits.h"
#include "rails/handlers/handler.h"

namespace pay::handlers {

std::string DerivedRef(const std::string& scope, std::string_view key) {
  std::string ref = scope + "/" + std::string(key);
  if (ref.size() <= limits::kReferenceBytesMax) return ref;
  return scope.substr(0, 64) + "/sha256:" + ToHex(Sha256(key));
}

Result<void> CheckCallerRef(std::string_view ref, const char* field) {
  if (!ref.starts_with(payments::kRefPrefix)) return {};
  return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": refs starting with '" +
                                                    std::string(payments::kRefPrefix) +
                                                    "' are the card payments' own");
}

void SetPayment(Outcome* out, const payments::Payment& p) {
  out->body = payments::PaymentJson(p);
  out->payment_id = p.id;
  out->payment_status = std::string(PaymentStatusName(p.status));
  out->response_code = p.response_code;
  out->entry_id = p.history.empty() ? 0 : p.history.back().entry_id;
}

Step PaymentStep(const payments::Payment& payment, Operation op) {
  Step step;
  step.outcome.operation = op;
  SetPayment(&step.outcome, payment);
  return step;
}

// An online operation's step: the payment decided locally, or the exchange it waits for.
Step OnlineStep(payments::Prepared prepared, Operation op, bool push) {
  if (!prepared.needs_network) return PaymentStep(prepared.payment, op);
  Step step;
  step.outcome.operation = op;
  step.outcome.payment_id = prepared.payment.id;
  step.outcome.payment_status = "pending";  // replaced by the answer once the exchange completes
  step.exchange = Exchange{std::move(prepared.request), prepared.payment.id, push, std::nullopt};
  return step;
}

payments::Claim ClaimOf(const Command& c, const CommandContext& x) {
  return payments::Claim{x.scope, static_cast<int32_t>(x.operation), c.idempotency_key};
}

}  // namespace pay::handlers
