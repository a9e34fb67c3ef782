// The read tools, the dispatch and the error content. The write tools are in write_tools.cc.

#include "adapters/mcp/tools.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "adapters/mcp/args.h"
#include "adapters/requests/requests.h"
#include "core/json_writer.h"

namespace pay::mcp {
namespace {

using google::protobuf::Struct;

ToolResult Content(std::string json) {
  ToolResult r;
  r.structured_json = std::move(json);
  r.outcome = "ok";
  return r;
}

ToolResult Refused(const Error& e, std::string_view outcome = {},
                   const std::vector<VelocityWindowStatus>& windows = {}) {
  ToolResult r;
  r.structured_json = ErrorContent(e, windows);
  r.is_error = true;
  r.outcome = outcome.empty() ? "refused:" + std::string(e.name()) : std::string(outcome);
  return r;
}

ToolResult Invalid(const Error& e) { return Refused(e, "invalid"); }

constexpr std::array<std::string_view, 3> kAccounts = {"pending", "available", "disbursement"};

// "status: ..." -> "status"; empty when the message names no field.
std::string_view ParamOf(std::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == std::string_view::npos || colon > 64) return {};
  std::string_view p = message.substr(0, colon);
  for (char c : p) {
    if (!(c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return {};
  }
  return p;
}

// The whole number right after `marker` in `text` (rails/guards/velocity.cc words its refusals
// "rule 'R' allows N ... per Ss for KEY"); -1 when there is none.
int64_t NumberAfter(std::string_view text, std::string_view marker) {
  const size_t at = text.find(marker);
  if (at == std::string_view::npos) return -1;
  int64_t n = 0;
  const char* first = text.data() + at + marker.size();
  auto [end, ec] = std::from_chars(first, text.data() + text.size(), n);
  return ec == std::errc() && end != first ? n : -1;
}

}  // namespace

std::string ErrorContent(const Error& error, const std::vector<VelocityWindowStatus>& windows) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject();
  w.Field("code", error.name()).Field("number", error.number());
  w.Field("type", requests::ErrorType(error.code)).Field("message", error.message);
  if (std::string_view p = ParamOf(error.message); !p.empty() && error.number() < 2000) {
    w.Field("param", p);
  }
  if (!error.rule.empty()) {
    w.Field("rule", error.rule);
    // The window that refused: the one with nothing left, the longest wait first.
    const VelocityWindowStatus* refusing = nullptr;
    for (const VelocityWindowStatus& s : windows) {
      if (s.rule != error.rule || s.shadow) continue;
      if (refusing == nullptr || s.retry_after_ms > refusing->retry_after_ms) refusing = &s;
    }
    if (refusing != nullptr) {
      w.Field("key", refusing->key).Field("limit", refusing->limit);
      w.Field("used", refusing->used).Field("window_s", refusing->window_ms / 1000);
    } else if (int64_t limit = NumberAfter(error.message, "' allows "); limit >= 0) {
      // A rule keyed on something else than the agent (a card): the refusal's own words.
      w.Field("limit", limit);
      if (int64_t s = NumberAfter(error.message, " per "); s >= 0) w.Field("window_s", s);
    }
    if (!error.response_code.empty()) w.Field("response_code", error.response_code);
    w.Field("retry_after_ms", error.retry_after_ms);
    w.Field("retry_after_s", (error.retry_after_ms + 999) / 1000);
  }
  w.EndObject().EndObject();
  return w.str();
}

Tools::Tools(Engine& engine, ToolsOptions options)
    : engine_(engine), options_(std::move(options)) {}

std::vector<const ToolSpec*> Tools::Listed() const {
  std::vector<const ToolSpec*> out;
  for (const ToolSpec& t : AllTools()) {
    if (!t.write || options_.allowed_writes.count(std::string(t.name)) != 0) out.push_back(&t);
  }
  return out;
}

ToolResult Tools::Call(const ToolSpec& tool, const Struct& args) {
  if (tool.write) return Write(tool, args);
  const std::string_view n = tool.name;
  if (n == "get_payment") return GetPayment(args);
  if (n == "list_payments") return ListPayments(args);
  if (n == "get_balances") return GetBalances(args);
  if (n == "account_history") return AccountHistory(args);
  if (n == "ledger_verify") return LedgerVerify(args);
  return VelocityStatus(args);
}

ToolResult Tools::GetPayment(const Struct& args) {
  Args a(args);
  auto id = a.String("payment_id", 64);
  if (!id) return Invalid(id.error());
  if (auto left = a.Leftover(); !left) return Invalid(left.error());
  auto p = engine_.GetPayment(*id);
  if (p && p->merchant != options_.merchant) {  // another merchant's payment does not exist here
    p = MakeError(ErrorCode::kPaymentNotFound, "payment_id: no payment " + *id);
  }
  if (!p) return Refused(p.error());
  return Content("{\"payment\":" + PaymentJson(*p) + "}");
}

ToolResult Tools::ListPayments(const Struct& args) {
  Args a(args);
  requests::PaymentFilter filter;
  auto status = a.OptString("status", 32);
  auto kind = a.OptString("kind", 16);
  auto meta = a.Object("metadata");
  auto after = a.OptString("after", 64);
  auto limit = a.Int("limit", 1, 100, 20);
  for (const Result<void>& r :
       {status ? Result<void>() : status.error(), kind ? Result<void>() : kind.error(),
        meta ? Result<void>() : meta.error(), after ? Result<void>() : after.error(),
        limit ? Result<void>() : limit.error(), a.Leftover()}) {
    if (!r) return Invalid(r.error());
  }
  if (*status) {
    auto s = requests::ParsePaymentStatus(**status, "status");
    if (!s) return Invalid(s.error());
    filter.status = *s;
  }
  if (*kind) {
    for (PaymentKind k :
         {PaymentKind::kPull, PaymentKind::kPush, PaymentKind::kFunding, PaymentKind::kP2p}) {
      if (PaymentKindName(k) == **kind) filter.kind = k;
    }
    if (!filter.kind) return Invalid(MakeError(ErrorCode::kInvalidArgument, "kind: unknown kind"));
  }
  if (*meta != nullptr) {
    for (const auto& [k, v] : (*meta)->fields()) {
      if (v.kind_case() != google::protobuf::Value::kStringValue) {
        return Invalid(MakeError(ErrorCode::kInvalidArgument, "metadata: values are strings"));
      }
      filter.metadata.emplace_back(k, v.string_value());
    }
  }
  auto page = requests::ListPayments(engine_, options_.merchant, after->value_or(""),
                                     static_cast<size_t>(*limit), filter);
  if (!page) return Refused(page.error());
  JsonWriter w;
  w.BeginObject().Key("payments").BeginArray();
  for (const PaymentView& p : page->items) w.Raw(PaymentJson(p));
  w.EndArray().Field("has_more", page->has_more);
  if (page->has_more) w.Field("next_cursor", page->next_cursor);
  w.EndObject();
  return Content(w.str());
}

ToolResult Tools::GetBalances(const Struct& args) {
  Args a(args);
  if (auto left = a.Leftover(); !left) return Invalid(left.error());
  auto merchant = engine_.GetMerchant(options_.merchant);
  if (!merchant) return Refused(merchant.error());
  JsonWriter w;
  w.BeginObject().Field("merchant", merchant->id).Field("currency", merchant->currency);
  w.Key("accounts").BeginArray();
  for (std::string_view name : kAccounts) {
    auto acct = engine_.GetAccount("m/" + options_.merchant + "/" + std::string(name));
    if (!acct) {
      if (acct.error().code == ErrorCode::kUnknownAccount) continue;
      return Refused(acct.error());
    }
    w.Raw(AccountJson(*acct));
  }
  w.EndArray().EndObject();
  return Content(w.str());
}

ToolResult Tools::AccountHistory(const Struct& args) {
  Args a(args);
  auto account = a.String("account", 32);
  auto limit = a.Int("limit", 1, 1000, 50);
  if (!account) return Invalid(account.error());
  if (!limit) return Invalid(limit.error());
  if (auto left = a.Leftover(); !left) return Invalid(left.error());
  if (std::find(kAccounts.begin(), kAccounts.end(), *account) == kAccounts.end()) {
    return Invalid(
        MakeError(ErrorCode::kInvalidArgument, "account: one of pending, available, disbursement"));
  }
  const std::string id = "m/" + options_.merchant + "/" + *account;
  auto lines = engine_.History(id, static_cast<size_t>(*limit));
  if (!lines) return Refused(lines.error());
  return Content(requests::HistoryJson(id, *lines));
}

ToolResult Tools::LedgerVerify(const Struct& args) {
  Args a(args);
  if (auto left = a.Leftover(); !left) return Invalid(left.error());
  auto report = engine_.Verify();
  if (!report) return Refused(report.error());
  JsonWriter w;
  w.BeginObject().Field("ok", report->ok()).Field("entries_checked", report->entries_checked);
  w.Field("accounts_checked", report->accounts_checked);
  w.Field("problems_total", report->problems_total).Key("problems").BeginArray();
  for (size_t i = 0; i < report->problems.size() && i < 20; ++i) w.String(report->problems[i]);
  w.EndArray().Field("head_hash", report->head_hash_hex).EndObject();
  return Content(w.str());
}

std::vector<VelocityWindowStatus> Tools::AgentWindows(std::string_view rule) {
  // Every key a rule of the agent's own dimensions may have, in any order.
  const std::array<std::pair<std::string_view, std::string>, 3> dims = {{
      {"merchant", options_.merchant},
      {"credential", options_.credential},
      {"channel", "mcp"},
  }};
  std::vector<VelocityWindowStatus> out;
  std::array<int, 3> order = {0, 1, 2};
  std::set<std::string> keys;
  do {
    std::string key;
    for (int i : order) {
      key += (key.empty() ? "" : ";") + std::string(dims[i].first) + "=" + dims[i].second;
      keys.insert(key);
    }
  } while (std::next_permutation(order.begin(), order.end()));
  for (const std::string& key : keys) {
    auto windows = engine_.VelocityStatus(rule, key);
    if (!windows) continue;
    for (VelocityWindowStatus& s : *windows) out.push_back(std::move(s));
  }
  return out;
}

ToolResult Tools::VelocityStatus(const Struct& args) {
  Args a(args);
  if (auto left = a.Leftover(); !left) return Invalid(left.error());
  JsonWriter w;
  w.BeginObject().Field("credential", options_.credential).Key("windows").BeginArray();
  for (const VelocityWindowStatus& s : AgentWindows("")) {
    w.BeginObject().Field("rule", s.rule).Field("key", s.key).Field("algorithm", s.algorithm);
    w.Field("window_s", s.window_ms / 1000).Field("limit", s.limit).Field("used", s.used);
    w.Field("remaining", s.remaining).Field("retry_after_ms", s.retry_after_ms);
    w.Field("shadow", s.shadow).EndObject();
  }
  w.EndArray().EndObject();
  return Content(w.str());
}

}  // namespace pay::mcp
