#pragma once
// Tests that check payments field by field in their JSON read them through the engine's typed
// views, rendered as the operations answer (pay::PaymentJson).

#include <string>
#include <string_view>
#include <vector>

#include "pay/engine.h"

namespace pay::testing {

inline Result<std::string> ShowPaymentJson(Engine& engine, std::string_view payment_id) {
  PAY_ASSIGN_OR_RETURN(PaymentView p, engine.GetPayment(payment_id));
  return PaymentJson(p);
}

inline Result<std::vector<std::string>> ListPaymentJson(Engine& engine, std::string_view merchant,
                                                        std::string_view after_id, size_t limit) {
  PAY_ASSIGN_OR_RETURN(Page<PaymentView> page, engine.ListPayments(merchant, after_id, limit));
  std::vector<std::string> out;
  for (const PaymentView& p : page.items) out.push_back(PaymentJson(p));
  return out;
}

}  // namespace pay::testing
