// The write tools: arguments into an engine Command of the MCP channel, the engine's answer into
// a tool result. Nothing here decides about money; the guards that are the channel's own (the
// allow-list, the key, the test cards, the merchant) are checked before the engine is asked.

#include <array>
#include <utility>

#include "adapters/mcp/args.h"
#include "adapters/mcp/tools.h"
#include "core/json_writer.h"
#include "pay/money.h"

namespace pay::mcp {
namespace {

using google::protobuf::Struct;

// docs/network-sim.md: the simulator's cards for pulls and pushes.
constexpr std::array<std::string_view, 11> kTestCards = {
    "4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995",
    "4000000000000069", "4000000000000119", "4000000000000077", "4000000000000341",
    "4000000000000259", "4000000000000127", "4000000000003220"};

Error Bad(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// A card argument: a test card's number (never echoed back in an error).
Result<std::string> Card(Args& a, std::string_view name) {
  PAY_ASSIGN_OR_RETURN(std::string pan, a.String(name, 19));
  if (!IsSimulatorTestCard(pan)) {
    return Bad(std::string(name) +
               ": not a network simulator test card; this server accepts only the test cards of "
               "docs/network-sim.md");
  }
  return pan;
}

Result<int64_t> Amount(const std::string& text, const Currency& currency) {
  return ParseDecimalMinor(text, currency.exponent, "amount");
}

Result<PaymentNotes> Notes(Args& a) {
  PAY_ASSIGN_OR_RETURN(auto description, a.OptString("description", 512));
  PaymentNotes notes;
  notes.description = description.value_or("");
  return notes;
}

}  // namespace

bool IsSimulatorTestCard(std::string_view pan) {
  for (std::string_view c : kTestCards) {
    if (c == pan) return true;
  }
  return false;
}

namespace {

Result<Request> Authorize(Args& a) {
  PAY_ASSIGN_OR_RETURN(std::string pan, Card(a, "card_number"));
  PAY_ASSIGN_OR_RETURN(std::string expiry, a.String("expiry", 5));
  PAY_ASSIGN_OR_RETURN(auto cvv, a.OptString("cvv", 4));
  PAY_ASSIGN_OR_RETURN(std::string amount, a.String("amount", 32));
  PAY_ASSIGN_OR_RETURN(std::string currency, a.String("currency", 3));
  PAY_ASSIGN_OR_RETURN(const Currency* cur, LookupCurrency(currency, "currency"));
  PAY_ASSIGN_OR_RETURN(int64_t minor, Amount(amount, *cur));
  PAY_ASSIGN_OR_RETURN(PaymentNotes notes, Notes(a));
  return Request(AuthorizeRequest{{pan, expiry, cvv.value_or("")}, minor, currency, notes});
}

Result<Request> Payout(Args& a, const std::string& merchant) {
  PAY_ASSIGN_OR_RETURN(std::string pan, Card(a, "recipient_card"));
  PAY_ASSIGN_OR_RETURN(std::string amount, a.String("amount", 32));
  PAY_ASSIGN_OR_RETURN(std::string currency, a.String("currency", 3));
  PAY_ASSIGN_OR_RETURN(const Currency* cur, LookupCurrency(currency, "currency"));
  PAY_ASSIGN_OR_RETURN(int64_t minor, Amount(amount, *cur));
  PAY_ASSIGN_OR_RETURN(std::string recipient, a.String("recipient_name", 30));
  PAY_ASSIGN_OR_RETURN(auto purpose, a.OptString("purpose", 2));
  PAY_ASSIGN_OR_RETURN(auto reference, a.OptString("sender_reference", 30));
  PAY_ASSIGN_OR_RETURN(PaymentNotes notes, Notes(a));
  PushRequest req;
  req.recipient_card = {pan, "", ""};
  req.amount_minor = minor;
  req.currency = currency;
  req.purpose = purpose.value_or("FD");
  req.sender_name = merchant.substr(0, 30);
  req.sender_reference = reference.value_or("");
  req.recipient_name = recipient;
  req.notes = std::move(notes);
  return Request(std::move(req));
}

Result<Request> P2p(Args& a) {
  P2pRequest req;
  PAY_ASSIGN_OR_RETURN(std::string sender, Card(a, "sender_card"));
  PAY_ASSIGN_OR_RETURN(std::string expiry, a.String("sender_expiry", 5));
  PAY_ASSIGN_OR_RETURN(auto cvv, a.OptString("sender_cvv", 4));
  PAY_ASSIGN_OR_RETURN(std::string recipient, Card(a, "recipient_card"));
  PAY_ASSIGN_OR_RETURN(std::string amount, a.String("amount", 32));
  PAY_ASSIGN_OR_RETURN(std::string currency, a.String("currency", 3));
  PAY_ASSIGN_OR_RETURN(const Currency* cur, LookupCurrency(currency, "currency"));
  PAY_ASSIGN_OR_RETURN(req.amount_minor, Amount(amount, *cur));
  PAY_ASSIGN_OR_RETURN(req.sender_name, a.String("sender_name", 30));
  PAY_ASSIGN_OR_RETURN(req.recipient_name, a.String("recipient_name", 30));
  PAY_ASSIGN_OR_RETURN(req.notes, Notes(a));
  req.sender_card = {sender, expiry, cvv.value_or("")};
  req.recipient_card = {recipient, "", ""};
  req.currency = currency;
  return Request(std::move(req));
}

// capture, void, refund: the payment must be this merchant's; amounts are in its currency.
Result<Request> OnPayment(std::string_view tool, Args& a, Engine& engine,
                          const std::string& merchant) {
  PAY_ASSIGN_OR_RETURN(std::string id, a.String("payment_id", 64));
  PAY_ASSIGN_OR_RETURN(auto amount, tool == "void"
                                        ? Result<std::optional<std::string>>(std::nullopt)
                                        : a.OptString("amount", 32));
  PAY_ASSIGN_OR_RETURN(bool final,
                       tool == "capture" ? a.Bool("final", false) : Result<bool>(false));
  auto p = engine.GetPayment(id);
  if (!p || p->merchant != merchant) {
    if (p || p.error().code == ErrorCode::kPaymentNotFound) {
      return MakeError(ErrorCode::kPaymentNotFound, "payment_id: no payment " + id);
    }
    return p.error();
  }
  std::optional<int64_t> minor;
  if (amount) {
    const Currency* cur = FindCurrency(p->currency);
    if (cur == nullptr) return MakeError(ErrorCode::kInternal, "payment: unknown currency");
    PAY_ASSIGN_OR_RETURN(minor, Amount(*amount, *cur));
  }
  if (tool == "capture") return Request(CaptureRequest{id, minor, final});
  if (tool == "refund") return Request(RefundRequest{id, minor});
  return Request(VoidPaymentRequest{id});
}

}  // namespace

ToolResult Tools::Write(const ToolSpec& tool, const Struct& args) {
  ToolResult r;
  const std::string name(tool.name);
  if (options_.allowed_writes.count(name) == 0) {
    r.structured_json = ErrorContent(MakeError(
        ErrorCode::kForbidden, "tool: '" + name +
                                   "' is not enabled on this server (the operator starts it "
                                   "with --allow-tools " +
                                   name + ")"));
    r.is_error = true;
    r.outcome = "not_allowed";
    return r;
  }
  Args a(args);
  auto key = a.String("idempotency_key", 255);
  Result<Request> req = MakeError(ErrorCode::kInternal, "no request");
  if (!key) {
    req = key.error();
  } else if (name == "authorize") {
    req = Authorize(a);
  } else if (name == "payout") {
    req = Payout(a, options_.merchant);
  } else if (name == "p2p") {
    req = P2p(a);
  } else {
    req = OnPayment(name, a, engine_, options_.merchant);
  }
  if (req) {
    if (auto left = a.Leftover(); !left) req = left.error();
  }
  const std::string key_text = key ? *key : "";
  if (!req) {
    r.structured_json = ErrorContent(req.error());
    r.is_error = true;
    r.key = key_text;
    r.outcome =
        req.error().code == ErrorCode::kPaymentNotFound ? "refused:payment_not_found" : "invalid";
    return r;
  }
  Command c;
  c.merchant = options_.merchant;
  c.idempotency_key = key_text;
  c.channel = Channel::kMcp;
  c.client.credential = options_.credential;
  c.request = std::move(*req);
  return Submitted(engine_.Submit(c), key_text);
}

ToolResult Tools::Submitted(const Result<Outcome>& r, std::string key) {
  ToolResult out;
  out.key = std::move(key);
  if (!r) {
    const Error& e = r.error();
    out.structured_json = ErrorContent(
        e, e.rule.empty() ? std::vector<VelocityWindowStatus>() : AgentWindows(e.rule));
    out.is_error = true;
    out.outcome = "refused:" + std::string(e.name());
    return out;
  }
  if (r->declined) {
    out.structured_json = ErrorContent(r->decline);
    out.is_error = true;
    out.outcome = "declined:" + std::string(r->decline.name());
    return out;
  }
  JsonWriter w;
  w.BeginObject().Field("replayed", r->replayed).Key("payment").Raw(r->body).EndObject();
  out.structured_json = w.str();
  out.outcome = r->replayed ? "replayed" : "ok";
  return out;
}

}  // namespace pay::mcp
