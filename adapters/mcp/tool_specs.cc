// The tools' names, descriptions, annotations and JSON Schemas, one table (docs/mcp.md lists
// them). Amounts are decimal strings in the currency's units ("25.00"), never floats.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/mcp/tools.h"

namespace pay::mcp {
namespace {

#define PAY_MCP_KEY                                                                      \
  R"("idempotency_key":{"type":"string","minLength":1,"maxLength":255,"description":)"   \
  R"("Chosen by you, unique per intended operation: a retry with the same key and the )" \
  R"(same arguments returns the stored result and moves nothing again; the same key )"   \
  R"(with other arguments is refused."})"
#define PAY_MCP_AMOUNT(what)                                                                    \
  R"("amount":{"type":"string","pattern":"^[0-9]{1,15}(\\.[0-9]{1,4})?$","description":")" what \
  R"( as a decimal string in the currency's units, e.g. \"25.00\""})"
#define PAY_MCP_CURRENCY \
  R"("currency":{"type":"string","pattern":"^[A-Z]{3}$","description":"ISO 4217 code, e.g. USD"})"
#define PAY_MCP_PAYMENT_ID                                         \
  R"("payment_id":{"type":"string","minLength":1,"maxLength":64,)" \
  R"("description":"e.g. pay_000000000001"})"
#define PAY_MCP_CARD(name, what)                                                      \
  R"(")" name R"(":{"type":"string","pattern":"^[0-9]{12,19}$","description":")" what \
  R"(: a network simulator test card number (docs/network-sim.md), digits only"})"
#define PAY_MCP_EXPIRY(name) \
  R"(")" name R"(":{"type":"string","pattern":"^[0-9]{2}/[0-9]{2}$","description":"MM/YY"})"
#define PAY_MCP_NAME(name, what) \
  R"(")" name R"(":{"type":"string","minLength":1,"maxLength":30,"description":")" what R"("})"
#define PAY_MCP_DESCRIPTION \
  R"("description":{"type":"string","maxLength":512,"description":"Kept with the payment"})"

constexpr std::string_view kNoInput =
    R"({"type":"object","properties":{},"additionalProperties":false})";

// An output schema: the success shape (its properties and required ones) or, for a result with
// isError true, {"error":{...}} (ErrorContent); clients validate structuredContent either way.
std::string Out(std::string_view properties, std::string_view required) {
  return std::string(R"({"type":"object","properties":{)") + std::string(properties) +
         R"(,"error":{"type":"object","description":"Why the call was refused: code, message, )"
         R"(and for velocity caps rule, limit, window_s, retry_after_s"}},"anyOf":[{"required":[)" +
         std::string(required) + R"(]},{"required":["error"]}]})";
}

const std::string kPaymentOutput =
    Out(R"("replayed":{"type":"boolean","description":)"
        R"("true when this is the stored result of an earlier call with the same key"},)"
        R"("payment":{"type":"object","description":"The payment after the operation: id, )"
        R"(status, amounts in *_minor integer units, the card's BIN and last four only"})",
        R"("replayed","payment")");

std::vector<ToolSpec> ReadTools() {
  return {
      {"get_payment", "Get a payment",
       "One payment of this merchant: status, amounts (integer minor units), card BIN and last "
       "four, history of operations.",
       R"({"type":"object","properties":{)" PAY_MCP_PAYMENT_ID
       R"(},"required":["payment_id"],"additionalProperties":false})",
       Out(R"("payment":{"type":"object"})", R"("payment")")},
      {"list_payments", "List payments",
       "This merchant's payments in id order, optionally filtered by status, kind and metadata; "
       "page with `after` = the previous page's next_cursor.",
       R"({"type":"object","properties":{)"
       R"("status":{"type":"string","enum":["pending","authorized","declined",)"
       R"("partially_captured","captured","voided","refunded","partially_refunded","reversed",)"
       R"("expired","settled","unknown","submitted","completed","pending_credit",)"
       R"("funding_declined"]},)"
       R"("kind":{"type":"string","enum":["card","push","funding","p2p"]},)"
       R"("metadata":{"type":"object","additionalProperties":{"type":"string"},)"
       R"("description":"Only payments with every one of these key/value pairs"},)"
       R"("after":{"type":"string","description":"Cursor: a payment id"},)"
       R"("limit":{"type":"integer","minimum":1,"maximum":100,"default":20}},)"
       R"("additionalProperties":false})",
       Out(R"("payments":{"type":"array","items":{"type":"object"}},)"
           R"("has_more":{"type":"boolean"},"next_cursor":{"type":"string"})",
           R"("payments","has_more")")},
      {"get_balances", "Merchant balances",
       "Balances of this merchant's ledger accounts: pending (captured, not yet settled), "
       "available (settled), disbursement (prefunded for payouts), in integer minor units.",
       kNoInput,
       Out(R"("merchant":{"type":"string"},"currency":{"type":"string"},)"
           R"("accounts":{"type":"array","items":{"type":"object"}})",
           R"("merchant","currency","accounts")")},
      {"account_history", "Account history",
       "The latest statement lines of one of this merchant's accounts.",
       R"({"type":"object","properties":{"account":{"type":"string","enum":["pending",)"
       R"("available","disbursement"]},"limit":{"type":"integer","minimum":1,"maximum":1000,)"
       R"("default":50}},"required":["account"],"additionalProperties":false})",
       Out(R"("account":{"type":"string"},"lines":{"type":"array","items":{"type":"object"}})",
           R"("account","lines")")},
      {"ledger_verify", "Verify the ledger",
       "Recomputes every balance and the audit hash chain from the journal; ok is true when the "
       "books are consistent.",
       kNoInput,
       Out(R"("ok":{"type":"boolean"},"entries_checked":{"type":"integer"},)"
           R"("accounts_checked":{"type":"integer"},"problems_total":{"type":"integer"},)"
           R"("problems":{"type":"array","items":{"type":"string"}},"head_hash":{"type":"string"})",
           R"("ok")")},
      {"velocity_status", "Velocity status",
       "This agent's spending and rate caps (velocity rules on the mcp channel, this merchant and "
       "this credential): limit, used, remaining and retry_after_ms per window.",
       kNoInput,
       Out(R"("credential":{"type":"string"},"windows":{"type":"array","items":{"type":"object"}})",
           R"("credential","windows")")},
  };
}

std::vector<ToolSpec> WriteTools() {
  return {
      // clang-format off
      {"authorize", "Authorize a card payment",
       "Places a hold on a card for an amount (capture it later). Test cards only.",
       R"({"type":"object","properties":{)"
         PAY_MCP_CARD("card_number", "The card") R"(,)"
         PAY_MCP_EXPIRY("expiry") R"(,)"
         R"("cvv":{"type":"string","pattern":"^[0-9]{3,4}$"},)"
         PAY_MCP_AMOUNT("The amount") R"(,)"
         PAY_MCP_CURRENCY R"(,)"
         PAY_MCP_DESCRIPTION R"(,)"
         PAY_MCP_KEY
       R"(},"required":["card_number","expiry","amount","currency","idempotency_key"],)"
       R"("additionalProperties":false})",
       kPaymentOutput, true, false, true},
      {"capture", "Capture an authorization",
       "Captures all or part of an authorized payment.",
       R"({"type":"object","properties":{)"
         PAY_MCP_PAYMENT_ID R"(,)"
         PAY_MCP_AMOUNT("What to capture (absent: all that is authorized)") R"(,)"
         R"("final":{"type":"boolean","description":"Release what stays authorized"},)"
         PAY_MCP_KEY
       R"(},"required":["payment_id","idempotency_key"],"additionalProperties":false})",
       kPaymentOutput, true, false, true},
      {"void", "Void an authorization",
       "Cancels an authorization that was not captured and releases its hold.",
       R"({"type":"object","properties":{)"
         PAY_MCP_PAYMENT_ID R"(,)"
         PAY_MCP_KEY
       R"(},"required":["payment_id","idempotency_key"],"additionalProperties":false})",
       kPaymentOutput, true, true, true},
      {"refund", "Refund a payment",
       "Refunds all or part of what was captured.",
       R"({"type":"object","properties":{)"
         PAY_MCP_PAYMENT_ID R"(,)"
         PAY_MCP_AMOUNT("What to refund (absent: all that is captured and not refunded)") R"(,)"
         PAY_MCP_KEY
       R"(},"required":["payment_id","idempotency_key"],"additionalProperties":false})",
       kPaymentOutput, true, true, true},
      {"payout", "Pay out to a card",
       "Pushes money (OCT) from the merchant's prefunded disbursement balance to a card. Final "
       "once approved: there is no reversal.",
       R"({"type":"object","properties":{)"
         PAY_MCP_CARD("recipient_card", "The recipient's card") R"(,)"
         PAY_MCP_AMOUNT("The amount") R"(,)"
         PAY_MCP_CURRENCY R"(,)"
         PAY_MCP_NAME("recipient_name", "The recipient's name") R"(,)"
         R"("purpose":{"type":"string","enum":["AA","BB","BI","BP","CP","FD","GD","GP","LO",)"
         R"("MD","MP","OG","PD","PP","PS","TU","WT"],"default":"FD",)"
         R"("description":"Business application identifier"},)"
         PAY_MCP_NAME("sender_reference", "Your reference for the payout") R"(,)"
         PAY_MCP_DESCRIPTION R"(,)"
         PAY_MCP_KEY
       R"(},"required":["recipient_card","amount","currency","recipient_name",)"
       R"("idempotency_key"],"additionalProperties":false})",
       kPaymentOutput, true, true, true},
      {"p2p", "Person-to-person transfer",
       "Pulls the amount from the sender's card (AFT) and pushes it to the recipient's card "
       "(OCT); a declined push reverses the pull.",
       R"({"type":"object","properties":{)"
         PAY_MCP_CARD("sender_card", "The sender's card") R"(,)"
         PAY_MCP_EXPIRY("sender_expiry") R"(,)"
         R"("sender_cvv":{"type":"string","pattern":"^[0-9]{3,4}$"},)"
         PAY_MCP_CARD("recipient_card", "The recipient's card") R"(,)"
         PAY_MCP_AMOUNT("The amount") R"(,)"
         PAY_MCP_CURRENCY R"(,)"
         PAY_MCP_NAME("sender_name", "The sender's name") R"(,)"
         PAY_MCP_NAME("recipient_name", "The recipient's name") R"(,)"
         PAY_MCP_DESCRIPTION R"(,)"
         PAY_MCP_KEY
       R"(},"required":["sender_card","sender_expiry","recipient_card","amount","currency",)"
       R"("sender_name","recipient_name","idempotency_key"],"additionalProperties":false})",
       kPaymentOutput, true, true, true},
      // clang-format on
  };
}

const std::vector<ToolSpec>& Table() {
  static const std::vector<ToolSpec> kTools = [] {
    std::vector<ToolSpec> all = ReadTools();
    for (ToolSpec& t : WriteTools()) all.push_back(std::move(t));
    return all;
  }();
  return kTools;
}

#undef PAY_MCP_KEY
#undef PAY_MCP_AMOUNT
#undef PAY_MCP_CURRENCY
#undef PAY_MCP_PAYMENT_ID
#undef PAY_MCP_CARD
#undef PAY_MCP_EXPIRY
#undef PAY_MCP_NAME
#undef PAY_MCP_DESCRIPTION

}  // namespace

const std::vector<ToolSpec>& AllTools() { return Table(); }

const ToolSpec* FindTool(std::string_view name) {
  for (const ToolSpec& t : Table()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace pay::mcp
