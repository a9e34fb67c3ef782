// The card pull rail's commands: merchant, authorize, increment, capture, void, refund, payment,
// settle.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/requests/requests.h"
#include "cli/commands.h"
#include "cli/print.h"
#include "core/json_writer.h"
#include "core/time_format.h"

namespace pay::cli {
namespace {

// ---- merchant -------------------------------------------------------------------------------

struct MerchantCreateOptions {
  std::string id, currency, fee_fixed, key;
  int32_t fee_bps = 0;
};

int RunMerchantCreate(Context& ctx, const MerchantCreateOptions& o) {
  auto id = NamedMerchant(ctx, o.id);
  if (!id) return PrintError(ctx, id.error());
  CreateMerchantRequest req{*id, o.currency, o.fee_bps, 0};
  if (!o.fee_fixed.empty()) {
    auto cur = LookupCurrency(o.currency, "--currency");
    if (!cur) return PrintError(ctx, cur.error());
    auto fee = ParseDecimalMinor(o.fee_fixed, (*cur)->exponent, "--fee-fixed");
    if (!fee) return PrintError(ctx, fee.error());
    req.fee_fixed_minor = *fee;
  }
  auto r = ctx.engine->Submit(MakeCommand(ctx, o.key.empty() ? "merchant/" + *id : o.key, req));
  if (!r || r->declined || ctx.json) return EmitOutcome(ctx, r);
  std::cout << "merchant " << *id << " (" << o.currency << "): accounts m/" << *id
            << "/pending and m/" << *id << "/available\n";
  return 0;
}

int RunMerchantList(Context& ctx, const ListOptions& o) {
  auto r = ctx.engine->ListMerchants(o.after, o.limit);
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Key("merchants").BeginArray();
    for (const Merchant& m : r->items) w.Raw(MerchantJson(m));
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  for (const Merchant& m : r->items) {
    std::cout << m.id << "  " << m.currency << "  fee " << m.fee_bps << " bps + "
              << Decimal(m.fee_fixed_minor, FindCurrency(m.currency)) << " " << m.currency << "\n";
  }
  return 0;
}

void AddMerchantCommands(CLI::App& app, Context& ctx) {
  auto* merchant = app.add_subcommand("merchant", "Merchants of the card rails");
  merchant->require_subcommand(1);
  auto create = std::make_shared<MerchantCreateOptions>();
  auto* mcreate = merchant->add_subcommand("create", "Create a merchant and its accounts (same attributes again: no-op)");
  mcreate->add_option("id", create->id, "Merchant id: 1-48 printable ASCII characters, no spaces or '/' (or --merchant ID)");
  mcreate->add_option("--currency", create->currency, "The merchant's currency (ISO 4217)")->required();
  mcreate->add_option("--fee-bps", create->fee_bps, "Settlement fee in basis points of the net (250 = 2.5%)")->check(CLI::Range(0, 10000));
  mcreate->add_option("--fee-fixed", create->fee_fixed, "Settlement fee per payment (decimal)");
  mcreate->add_option("--key", create->key, "Idempotency key (default: merchant/ID)");
  Help(mcreate,
       {"paymentctl merchant create acme --currency USD --fee-bps 250 --fee-fixed 0.30",
        "paymentctl merchant create --merchant acme --currency USD"},
       {kWriteOptions}, "The merchant is named by ID or by --merchant ID (both: they must agree).");
  OnRun(mcreate, ctx, Needs::kEngine, [create](Context& c) { return RunMerchantCreate(c, *create); });

  auto list = std::make_shared<ListOptions>();
  auto* mlist = merchant->add_subcommand("list", "List merchants in id order: id, currency, fees");
  AddListOptions(mlist, *list, "Start after this merchant id (paging)");
  Help(mlist, {"paymentctl merchant list", "paymentctl merchant list --after acme --limit 10 --json"},
       {kReadOptions});
  OnRun(mlist, ctx, Needs::kEngine, [list](Context& c) { return RunMerchantList(c, *list); });
}

// ---- payments -------------------------------------------------------------------------------

// Parses a decimal amount in the currency of a payment.
Result<std::optional<int64_t>> PaymentAmount(Context& ctx, const std::string& payment_id,
                                             const std::string& text, const std::string& field) {
  if (text.empty()) return std::optional<int64_t>();
  auto payment = ctx.engine->GetPayment(payment_id);
  if (!payment) return Refield(payment.error(), "payment_id");
  const Currency* c = FindCurrency(payment->currency);
  PAY_ASSIGN_OR_RETURN(int64_t minor, ParseDecimalMinor(text, c != nullptr ? c->exponent : 2, field));
  return std::optional<int64_t>(minor);
}

struct AuthorizeOptions {
  std::string card, expiry, cvv, amount, currency, key;
  NotesOptions notes;
};

int RunAuthorize(Context& ctx, const AuthorizeOptions& o) {
  auto cur = LookupCurrency(o.currency, "--currency");
  if (!cur) return PrintError(ctx, cur.error());
  auto minor = ParseDecimalMinor(o.amount, (*cur)->exponent, "--amount");
  if (!minor) return PrintError(ctx, minor.error());
  auto notes = NotesOf(o.notes);
  if (!notes) return PrintError(ctx, notes.error());
  AuthorizeRequest req{{o.card, o.expiry, o.cvv}, *minor, o.currency, std::move(*notes)};
  return EmitPayment(ctx, ctx.engine->Submit(MakeCommand(ctx, o.key, std::move(req))));
}

void AddAuthorize(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<AuthorizeOptions>();
  auto* sub = app.add_subcommand("authorize", "Authorize a card payment (a hold on both sides of the network)");
  sub->add_option("--card", o->card, "Card number (never stored: only its fingerprint, BIN and last four)")->required();
  sub->add_option("--expiry", o->expiry, "Expiry MM/YY")->required();
  sub->add_option("--cvv", o->cvv, "CVV (checked by the issuer, never stored or logged)");
  sub->add_option("--amount", o->amount, "Decimal amount, e.g. 25.00")->required();
  sub->add_option("--currency", o->currency, "ISO 4217 code; the merchant's currency")->required();
  sub->add_option("--key", o->key, "Idempotency key")->required();
  AddNotesOptions(sub, o->notes);
  Help(sub,
       {"paymentctl authorize --merchant acme --card 4242424242424242 --expiry 12/30 --amount 25.00 --currency USD --key order-1",
        "paymentctl authorize --merchant acme --card 4242424242424242 --expiry 12/30 --amount 25.00 --currency USD --key order-2 --meta order=A-17 --description \"2 tickets\""},
       {kWriteOptions, kNetworkOptions}, R"(--merchant names the merchant. A decline is a result (exit 0, status declined).
Test cards: 4242424242424242 approves; 4000000000000002 -> 05; 4000000000009995 -> 51;
4000000000000077 -> 10 (half); 4000000000000341 -> no answer (unknown, then reversed).)");
  OnRun(sub, ctx, Needs::kEngineAndNetwork, [o](Context& c) { return RunAuthorize(c, *o); });
}

// increment, capture, void, refund: a payment id, an amount (in the payment's currency) and a key.
enum class PaymentOp { kIncrement, kCapture, kVoid, kRefund };

struct PaymentOpOptions {
  std::string payment_id, amount, key;
  bool final_capture = false;
};

int RunPaymentOp(Context& ctx, PaymentOp op, const PaymentOpOptions& o) {
  auto minor = PaymentAmount(ctx, o.payment_id, o.amount, "--amount");
  if (!minor) return PrintError(ctx, minor.error());
  Request req;
  switch (op) {
    case PaymentOp::kIncrement: req = IncrementRequest{o.payment_id, minor->value_or(0)}; break;
    case PaymentOp::kCapture: req = CaptureRequest{o.payment_id, *minor, o.final_capture}; break;
    case PaymentOp::kVoid: req = VoidPaymentRequest{o.payment_id}; break;
    case PaymentOp::kRefund: req = RefundRequest{o.payment_id, *minor}; break;
  }
  return EmitPayment(ctx, ctx.engine->Submit(MakeCommand(ctx, o.key, std::move(req))));
}

// Adds a payment operation with its payment id and --key; the caller adds --amount and the rest.
CLI::App* AddPaymentOp(CLI::App& app, Context& ctx, PaymentOp op, const char* name,
                       const char* description, const char* example,
                       const std::shared_ptr<PaymentOpOptions>& o) {
  auto* sub = app.add_subcommand(name, description);
  sub->add_option("payment_id", o->payment_id, "Payment id (pay_...)")->required();
  Help(sub, {example}, {kWriteOptions, kNetworkOptions}, "--merchant names the merchant (the idempotency scope).");
  OnRun(sub, ctx, Needs::kEngineAndNetwork, [op, o](Context& c) { return RunPaymentOp(c, op, *o); });
  return sub;
}

void AddPaymentOps(CLI::App& app, Context& ctx) {
  auto inc = std::make_shared<PaymentOpOptions>();
  auto* increment = AddPaymentOp(
      app, ctx, PaymentOp::kIncrement, "increment",
      "Incremental authorization: grow an authorized payment's hold",
      "paymentctl increment pay_000000000001 --merchant acme --amount 5.00 --key order-1-more", inc);
  increment->add_option("--amount", inc->amount, "Decimal amount to add")->required();
  increment->add_option("--key", inc->key, "Idempotency key")->required();

  auto cap = std::make_shared<PaymentOpOptions>();
  auto* capture = AddPaymentOp(
      app, ctx, PaymentOp::kCapture, "capture", "Capture all or part of an authorization",
      "paymentctl capture pay_000000000001 --merchant acme --amount 10.00 --key cap-1", cap);
  capture->add_option("--amount", cap->amount, "Decimal amount (default: all still authorized)");
  capture->add_flag("--final", cap->final_capture, "Release what stays authorized after this capture");
  capture->add_option("--key", cap->key, "Idempotency key")->required();

  auto vd = std::make_shared<PaymentOpOptions>();
  auto* pvoid = AddPaymentOp(
      app, ctx, PaymentOp::kVoid, "void",
      "Void an authorization (nothing captured yet): the hold is released",
      "paymentctl void pay_000000000001 --merchant acme --key void-1", vd);
  pvoid->add_option("--key", vd->key, "Idempotency key")->required();

  auto ref = std::make_shared<PaymentOpOptions>();
  auto* refund = AddPaymentOp(
      app, ctx, PaymentOp::kRefund, "refund", "Refund all or part of what was captured",
      "paymentctl refund pay_000000000001 --merchant acme --amount 5.00 --key refund-1", ref);
  refund->add_option("--amount", ref->amount, "Decimal amount (default: all captured and not yet refunded)");
  refund->add_option("--key", ref->key, "Idempotency key")->required();
}

// ---- payment show, list, resolve, expire; settle --------------------------------------------

int RunPaymentShow(Context& ctx, const std::string& payment_id) {
  auto r = ctx.engine->GetPayment(payment_id);
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    std::cout << PaymentJson(*r) << "\n";
  } else {
    PrintPaymentText(*r);
  }
  return 0;
}

struct PaymentListOptions {
  ListOptions list;
  std::string status, created_after, created_before;
  std::vector<std::string> metadata;  // KEY=VALUE
};

int RunPaymentList(Context& ctx, const PaymentListOptions& o) {
  requests::PaymentFilter filter;
  if (!o.status.empty()) {
    auto status = requests::ParsePaymentStatus(o.status, "--status");
    if (!status) return PrintError(ctx, status.error());
    filter.status = *status;
  }
  for (auto [text, name, bound] : {std::tuple{&o.created_after, "--created-after", &filter.created_gte_ms},
                                   {&o.created_before, "--created-before", &filter.created_lt_ms}}) {
    if (text->empty()) continue;
    auto ms = requests::ParseTimeMs(*text, name);
    if (!ms) return PrintError(ctx, ms.error());
    *bound = *ms;
  }
  auto meta = ParsePairs(o.metadata, "--metadata");
  if (!meta) return PrintError(ctx, meta.error());
  filter.metadata = std::move(*meta);
  auto r = requests::ListPayments(*ctx.engine, ctx.merchant, o.list.after, o.list.limit, filter);
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    std::cout << requests::PaymentPageJson(*r) << "\n";
    return 0;
  }
  for (const PaymentView& p : r->items) {
    std::cout << p.id << "  " << p.merchant << "  "
              << Decimal(p.amount_minor, FindCurrency(p.currency)) << " " << p.currency << "  "
              << PaymentStatusName(p.status) << "\n";
  }
  if (r->has_more) std::cout << "(more: --after " << r->next_cursor << ")\n";
  return 0;
}

// payment resolve, and with `expire` payment expire: expires authorizations past their validity
// first, then delivers queued network advices.
int RunResolve(Context& ctx, bool expire) {
  size_t expired = 0;
  if (expire) {
    auto n = ctx.engine->ExpirePayments(SIZE_MAX);
    if (!n) return PrintError(ctx, n.error());
    expired = *n;
  }
  auto left = ctx.engine->ResolvePending();
  if (!left) return PrintError(ctx, left.error());
  if (ctx.json) {
    std::cout << requests::ResolveJson(expired, *left) << "\n";
  } else {
    if (expire) std::cout << "expired " << expired << " authorizations\n";
    std::cout << (*left > 0 ? "some network advices are still unacknowledged (queued)\n"
                            : "no network advice is queued\n");
  }
  return 0;
}

int RunSettle(Context& ctx) {
  auto r = ctx.engine->Settle();
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    std::cout << requests::SettleJson(*r) << "\n";
    return 0;
  }
  std::cout << "settled " << r->payments << " payments\n";
  for (const auto& [cur, net, fee] : r->totals) {
    const Currency* c = FindCurrency(cur);
    std::cout << "  " << cur << "  net " << Decimal(net, c) << "  fees " << Decimal(fee, c)
              << "  to merchants " << Decimal(net - fee, c) << "\n";
  }
  return 0;
}

void AddPaymentCommands(CLI::App& app, Context& ctx) {
  auto* payment = app.add_subcommand("payment", "Inspect card payments");
  payment->require_subcommand(1);
  auto id = std::make_shared<std::string>();
  auto* pshow = payment->add_subcommand("show", "Show a payment and its history");
  pshow->add_option("payment_id", *id, "Payment id (pay_...)")->required();
  Help(pshow, {"paymentctl payment show pay_000000000001", "paymentctl payment show pay_000000000001 --json"},
       {kReadOptions});
  OnRun(pshow, ctx, Needs::kEngine, [id](Context& c) { return RunPaymentShow(c, *id); });

  auto list = std::make_shared<PaymentListOptions>();
  auto* plist = payment->add_subcommand("list", "List payments in id order (--merchant: of one merchant)");
  AddListOptions(plist, list->list, "Start after this payment id (paging)");
  plist->add_option("--status", list->status, "Only payments in this status (authorized, captured, declined, ...)");
  plist->add_option("--created-after", list->created_after, "Only payments created at or after this time (RFC 3339, or unix seconds)");
  plist->add_option("--created-before", list->created_before, "Only payments created before this time");
  plist->add_option("--metadata", list->metadata, "Only payments whose metadata has KEY=VALUE (repeat for several)")
      ->allow_extra_args(false);
  Help(plist, {"paymentctl --merchant acme payment list", "paymentctl payment list --after pay_000000000100 --json",
               "paymentctl payment list --status captured --created-after 2026-12-01T00:00:00Z"},
       {kReadOptions, "--merchant"});
  OnRun(plist, ctx, Needs::kEngine, [list](Context& c) { return RunPaymentList(c, *list); });

  auto* presolve = payment->add_subcommand("resolve", "Deliver queued network advices (reversals of unknown payments first)");
  Help(presolve, {"paymentctl payment resolve"}, {"--db --json --durability", kNetworkOptions});
  OnRun(presolve, ctx, Needs::kEngineAndNetwork, [](Context& c) { return RunResolve(c, false); });
  auto* pexpire = payment->add_subcommand("expire", "Expire authorizations past their validity now");
  Help(pexpire, {"paymentctl payment expire", "paymentctl --authorization-validity 1d payment expire --json"},
       {"--db --json --durability", kNetworkOptions});
  OnRun(pexpire, ctx, Needs::kEngineAndNetwork, [](Context& c) { return RunResolve(c, true); });

  auto* settle = app.add_subcommand("settle", "Settle captured payments: network receivable -> merchants' available balance, less fees");
  Help(settle, {"paymentctl settle", "paymentctl settle --json"}, {"--db --json --durability", kNetworkOptions});
  OnRun(settle, ctx, Needs::kEngineAndNetwork, RunSettle);
}

}  // namespace

void AddCardCommands(CLI::App& app, Context& ctx) {
  AddMerchantCommands(app, ctx);
  AddAuthorize(app, ctx);
  AddPaymentOps(app, ctx);
  AddPaymentCommands(app, ctx);
}

}  // namespace pay::cli
