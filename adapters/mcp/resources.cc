// The MCP resources of one merchant: its ledger accounts and its payments, read-only, rendered
// as the engine renders them (AccountJson, PaymentJson).

#include <string>
#include <string_view>
#include <vector>

#include "adapters/mcp/tools.h"

namespace pay::mcp {
namespace {

constexpr std::string_view kAccountScheme = "account://";
constexpr std::string_view kPaymentScheme = "payment://";
constexpr std::string_view kAccountNames[] = {"pending", "available", "disbursement"};

Error NotFound(std::string_view what) {
  return MakeError(ErrorCode::kNotFound, "uri: no " + std::string(what) + " of this merchant");
}

}  // namespace

std::vector<std::string> Tools::AccountUris() const {
  std::vector<std::string> out;
  for (std::string_view name : kAccountNames) {
    out.push_back(std::string(kAccountScheme) + "m/" + options_.merchant + "/" + std::string(name));
  }
  return out;
}

Result<std::string> Tools::ReadResource(std::string_view uri) {
  if (uri.substr(0, kAccountScheme.size()) == kAccountScheme) {
    for (const std::string& known : AccountUris()) {
      if (known != uri) continue;
      auto account = engine_.GetAccount(uri.substr(kAccountScheme.size()));
      if (!account) {
        if (account.error().code == ErrorCode::kUnknownAccount) return NotFound("account");
        return account.error();
      }
      return AccountJson(*account);
    }
    return NotFound("account");
  }
  if (uri.substr(0, kPaymentScheme.size()) == kPaymentScheme) {
    std::string_view id = uri.substr(kPaymentScheme.size());
    if (id.empty() || id.size() > 64) return NotFound("payment");
    auto p = engine_.GetPayment(id);
    if (!p) {
      if (p.error().code == ErrorCode::kPaymentNotFound) return NotFound("payment");
      return p.error();
    }
    if (p->merchant != options_.merchant) return NotFound("payment");
    return PaymentJson(*p);
  }
  return NotFound("resource");
}

}  // namespace pay::mcp
