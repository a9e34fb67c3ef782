#include "cli/print.h"

#include <iostream>

#include "adapters/requests/requests.h"
#include "core/json_fields.h"
#include "core/json_writer.h"
#include "core/time_format.h"

namespace pay::cli {

int ExitCodeFor(const Error& e) {
  return ErrorRetryAdvice(e.code) == RetryAdvice::kFixInput ? 2 : 1;
}

int PrintError(const Context& ctx, const Error& e) {
  if (ctx.json) {
    std::cout << requests::ErrorJson(e) << "\n";  // the envelope every channel answers with
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

void PrintPaymentText(const PaymentView& p, std::string_view status, std::string_view code) {
  const Currency* c = FindCurrency(p.currency);
  auto money = [&](int64_t minor) { return Decimal(minor, c) + " " + p.currency; };
  std::cout << "payment     " << p.id << "  (merchant " << p.merchant << ")\n"
            << "status      " << status;
  if (!code.empty()) std::cout << "  (response " << code << ")";
  std::cout << "\n"
            << "card        " << p.card.bin << "..." << p.card.last4 << "\n"
            << "amount      " << money(p.amount_minor) << "\n"
            << "authorized  " << money(p.authorized_minor) << "  capturable "
            << money(p.capturable_minor) << "\n"
            << "captured    " << money(p.captured_minor) << "  refunded " << money(p.refunded_minor)
            << "\n";
  if (p.settled_minor != 0 || p.settled) {
    std::cout << "settled     " << money(p.settled_minor) << "  fee " << money(p.fee_minor) << "\n";
  }
  if (p.kind != PaymentKind::kPull) {
    std::cout << "type        " << PaymentKindName(p.kind);
    if (!p.purpose.empty()) std::cout << "  (purpose " << p.purpose << ")";
    if (!p.recipient_name.empty()) std::cout << "  to " << p.recipient_name;
    std::cout << "\n";
  }
  std::cout << "network     rrn " << p.rrn << "  stan " << p.stan;
  if (!p.auth_code.empty()) std::cout << "  auth code " << p.auth_code;
  std::cout << "\n";
}

void PrintPaymentText(const PaymentView& p) {
  PrintPaymentText(p, PaymentStatusName(p.status), p.response_code);
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
  // The payment as it is now, with the status and response code the command answered.
  auto p = ctx.engine->GetPayment(r->payment_id);
  if (!p) return PrintError(ctx, p.error());
  PrintPaymentText(*p, r->payment_status, r->response_code);
  if (r->payment_status == "unknown") {
    std::cout << "(no answer from the network: a reversal is queued; `paymentctl payment show` "
                 "tells when it is acknowledged)\n";
  }
  return 0;
}

}  // namespace pay::cli
