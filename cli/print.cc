#include "cli/print.h"

#include <iostream>

#include "core/json_fields.h"
#include "core/json_writer.h"
#include "core/time_format.h"

namespace pay::cli {

int ExitCodeFor(const Error& e) {
  return ErrorRetryAdvice(e.code) == RetryAdvice::kFixInput ? 2 : 1;
}

int PrintError(const Context& ctx, const Error& e) {
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Key("error").BeginObject();
    w.Field("code", e.name()).Field("number", e.number()).Field("message", e.message);
    if (!e.rule.empty()) w.Field("rule", e.rule);
    if (!e.response_code.empty()) w.Field("response_code", e.response_code);
    if (e.retry_after_ms > 0) w.Field("retry_after_ms", e.retry_after_ms);
    w.EndObject().EndObject();
    std::cout << w.str() << "\n";
  } else {
    std::cerr << "paymentctl: " << e.message << " [" << e.name() << " " << e.number() << "]\n";
  }
  return ExitCodeFor(e);
}

Error Refield(Error e, const std::string& field) {
  size_t colon = e.message.find(": ");
  e.message = field + ": " + (colon == std::string::npos ? e.message : e.message.substr(colon + 2));
  return e;
}

std::string Decimal(int64_t minor, const Currency* c) {
  return FormatMinor(minor, c != nullptr ? c->exponent : 0);
}

std::string JsonText(std::string_view json, std::string_view name) { return JsonStringField(json, name); }
int64_t JsonInt(std::string_view json, std::string_view name) { return JsonIntField(json, name); }

namespace {

void PrintAccountText(const ledger::Account& a) {
  std::cout << "account    " << a.id << " (" << ledger::AccountTypeName(a.type) << ", "
            << a.currency->code << ", normal side " << ledger::SideName(a.normal_side()) << ")\n"
            << "balance    " << Decimal(a.balance_minor(), a.currency) << "\n"
            << "available  " << Decimal(a.available_minor(), a.currency) << "\n"
            << "posted     debits " << Decimal(a.debits_posted_minor, a.currency) << "  credits "
            << Decimal(a.credits_posted_minor, a.currency) << "\n"
            << "pending    debits " << Decimal(a.debits_pending_minor, a.currency) << "  credits "
            << Decimal(a.credits_pending_minor, a.currency) << "\n"
            << "overdraft  " << ledger::OverdraftModeName(a.overdraft);
  if (a.overdraft == ledger::OverdraftMode::kLimit) {
    std::cout << " " << Decimal(a.overdraft_limit_minor, a.currency);
  }
  std::cout << "\n";
  for (const auto& [k, v] : a.metadata) std::cout << "meta       " << k << "=" << v << "\n";
  if (a.replayed) std::cout << "(already existed with these attributes)\n";
}

void PrintEntryText(const ledger::Entry& e) {
  std::cout << "entry " << e.seq << "  " << ledger::EntryKindName(e.kind);
  if (e.state != ledger::EntryState::kNone) std::cout << " (" << ledger::EntryStateName(e.state) << ")";
  if (!e.ref.empty()) std::cout << "  ref " << e.ref;
  std::cout << "  " << FormatRfc3339Ms(e.created_at_ms) << "\n";
  if (!e.description.empty()) std::cout << "  " << e.description << "\n";
  if (e.resolves_seq) std::cout << "  resolves entry " << e.resolves_seq << "\n";
  if (e.reverses_seq) std::cout << "  reverses entry " << e.reverses_seq << "\n";
  if (e.resolved_by_seq) std::cout << "  resolved by entry " << e.resolved_by_seq << "\n";
  if (e.expires_at_ms) std::cout << "  expires " << FormatRfc3339Ms(e.expires_at_ms) << "\n";
  for (const auto& l : e.legs) {
    const Currency* c = FindCurrency(l.currency);
    std::cout << "  " << (l.side == ledger::Side::kDebit ? "Dr " : "Cr ") << l.account << "  "
              << Decimal(l.amount_minor, c) << " " << l.currency;
    if (l.phase != ledger::Phase::kPosted) std::cout << "  (" << ledger::PhaseName(l.phase) << ")";
    std::cout << "\n";
  }
  if (e.replayed) std::cout << "  (replayed: this reference was already recorded; nothing moved)\n";
}

}  // namespace

void PrintPaymentText(std::string_view json) {
  const std::string cur = JsonText(json, "currency");
  const Currency* c = FindCurrency(cur);
  auto money = [&](std::string_view field) { return Decimal(JsonInt(json, field), c) + " " + cur; };
  std::cout << "payment     " << JsonText(json, "payment_id") << "  (merchant "
            << JsonText(json, "merchant") << ")\n"
            << "status      " << JsonText(json, "status");
  std::string code = JsonText(json, "response_code");
  if (!code.empty()) std::cout << "  (response " << code << ")";
  std::cout << "\n"
            << "card        " << JsonText(json, "bin") << "..." << JsonText(json, "last4") << "\n"
            << "amount      " << money("amount_minor") << "\n"
            << "authorized  " << money("authorized_minor") << "  capturable "
            << money("capturable_minor") << "\n"
            << "captured    " << money("captured_minor") << "  refunded " << money("refunded_minor")
            << "\n";
  if (JsonInt(json, "settled_minor") != 0 || json.find("\"settled\":true") != std::string_view::npos) {
    std::cout << "settled     " << money("settled_minor") << "  fee " << money("fee_minor") << "\n";
  }
  const std::string type = JsonText(json, "type");
  if (!type.empty()) {
    std::cout << "type        " << type;
    const std::string purpose = JsonText(json, "purpose");
    if (!purpose.empty()) std::cout << "  (purpose " << purpose << ")";
    const std::string recipient = JsonText(json, "recipient_name");
    if (!recipient.empty()) std::cout << "  to " << recipient;
    std::cout << "\n";
  }
  std::cout << "network     rrn " << JsonText(json, "rrn") << "  stan " << JsonText(json, "stan");
  std::string auth = JsonText(json, "auth_code");
  if (!auth.empty()) std::cout << "  auth code " << auth;
  std::cout << "\n";
}

int EmitAccount(const Context& ctx, const Result<ledger::Account>& r) {
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    std::cout << AccountJson(*r) << "\n";
  } else {
    PrintAccountText(*r);
  }
  return 0;
}

int EmitEntry(const Context& ctx, const Result<ledger::Entry>& r) {
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    std::cout << EntryJson(*r) << "\n";
  } else {
    PrintEntryText(*r);
  }
  return 0;
}

int EmitOutcome(Context& ctx, const Result<Outcome>& r) {
  if (!r) return PrintError(ctx, r.error());
  const Outcome& o = *r;
  if (ctx.json) {
    std::cout << "{\"replayed\":" << (o.replayed ? "true" : "false")
              << (o.body.size() > 2 ? "," : "") << o.body.substr(1) << "\n";
    return o.declined ? 1 : 0;
  }
  if (o.replayed) std::cout << kReplayNote << "\n";
  if (o.declined) {
    std::cerr << "paymentctl: declined: " << o.decline.message << " [" << o.decline.name() << " "
              << o.decline.number() << "]\n";
    return 1;
  }
  if (o.entry_id != 0) {
    auto e = ctx.engine->GetEntry(o.entry_id);
    if (!e) return PrintError(ctx, e.error());
    PrintEntryText(*e);
  } else {
    std::cout << o.body << "\n";
  }
  return 0;
}

int EmitPayment(Context& ctx, const Result<Outcome>& r) {
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json || r->declined) return EmitOutcome(ctx, r);
  if (r->replayed) std::cout << kReplayNote << "\n";
  PrintPaymentText(r->body);
  if (r->payment_status == "unknown") {
    std::cout << "(no answer from the network: a reversal is queued; `paymentctl payment show` "
                 "tells when it is acknowledged)\n";
  }
  return 0;
}

}  // namespace pay::cli
