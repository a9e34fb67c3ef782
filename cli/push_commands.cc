// The push rail's commands: fund, push, p2p.

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/print.h"

namespace pay::cli {
namespace {

// Parses --amount in --currency.
Result<int64_t> AmountIn(const std::string& currency, const std::string& amount) {
  PAY_ASSIGN_OR_RETURN(const Currency* cur, LookupCurrency(currency, "--currency"));
  return ParseDecimalMinor(amount, cur->exponent, "--amount");
}

// ---- fund -----------------------------------------------------------------------------------

struct FundOptions {
  std::string merchant, amount, currency, key, card, expiry, cvv;
};

int RunFund(Context& ctx, const FundOptions& o) {
  auto merchant = NamedMerchant(ctx, o.merchant);
  if (!merchant) return PrintError(ctx, merchant.error());
  auto minor = AmountIn(o.currency, o.amount);
  if (!minor) return PrintError(ctx, minor.error());
  FundRequest req{*minor, o.currency, std::nullopt};
  if (!o.card.empty()) req.card = CardInput{o.card, o.expiry, o.cvv};
  ctx.merchant = *merchant;  // the fund's idempotency scope is the merchant funded
  auto r = ctx.engine->Submit(MakeCommand(ctx, o.key, std::move(req)));
  if (!o.card.empty()) return EmitPayment(ctx, r);
  if (!r || r->declined || ctx.json) return EmitOutcome(ctx, r);
  if (r->replayed) std::cout << kReplayNote << "\n";
  const Currency* c = FindCurrency(o.currency);
  std::cout << "funded " << *merchant << " with " << Decimal(JsonInt(r->body, "funded_minor"), c)
            << " " << o.currency << "; disbursement balance "
            << Decimal(JsonInt(r->body, "disbursement_balance_minor"), c) << " " << o.currency << "\n";
  return 0;
}

void AddFund(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<FundOptions>();
  auto* sub = app.add_subcommand("fund", "Prefund a merchant's disbursement balance: a bank top-up, or an AFT from a card");
  sub->add_option("merchant", o->merchant, "Merchant id (or --merchant ID)");
  sub->add_option("--amount", o->amount, "Decimal amount")->required();
  sub->add_option("--currency", o->currency, "The merchant's currency")->required();
  sub->add_option("--key", o->key, "Idempotency key")->required();
  auto* card = sub->add_option("--from-card", o->card, "Pull the funds from this card (AFT) instead of a bank top-up");
  sub->add_option("--expiry", o->expiry, "With --from-card: expiry MM/YY")->needs(card);
  sub->add_option("--cvv", o->cvv, "With --from-card: CVV")->needs(card);
  Help(sub,
       {"paymentctl fund acme --amount 5000.00 --currency USD --key topup-1",
        "paymentctl fund --merchant acme --amount 100.00 --currency USD --key topup-2 --from-card 4242424242424242 --expiry 12/30"},
       {kWriteOptions, kNetworkOptions}, "The merchant is named by MERCHANT or by --merchant ID (both: they must agree).");
  OnRun(sub, ctx, Needs::kEngineAndNetwork, [o](Context& c) { return RunFund(c, *o); });
}

// ---- push, p2p ------------------------------------------------------------------------------

struct PushCommandOptions {
  std::string card, amount, currency, purpose, recipient_name, sender_name, sender_ref, key;
  NotesOptions notes;
};

int RunPush(Context& ctx, const PushCommandOptions& o) {
  auto minor = AmountIn(o.currency, o.amount);
  if (!minor) return PrintError(ctx, minor.error());
  auto notes = NotesOf(o.notes);
  if (!notes) return PrintError(ctx, notes.error());
  PushRequest req{{o.card, "", ""}, *minor, o.currency, o.purpose,
                  o.sender_name.empty() ? ctx.merchant : o.sender_name, o.sender_ref, o.recipient_name,
                  std::move(*notes)};
  return EmitPayment(ctx, ctx.engine->Submit(MakeCommand(ctx, o.key, std::move(req))));
}

void AddPush(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PushCommandOptions>();
  auto* sub = app.add_subcommand("push", "Disburse to a card (OCT) out of the merchant's prefunded balance");
  sub->add_option("--card", o->card, "Recipient card number")->required();
  sub->add_option("--amount", o->amount, "Decimal amount")->required();
  sub->add_option("--currency", o->currency, "The merchant's currency")->required();
  sub->add_option("--purpose", o->purpose, "Business application identifier: AA, BB, BI, BP, CP, FD, GD, GP, LO, MD, MP, OG, PD, PP, PS, TU, WT")->required();
  sub->add_option("--recipient-name", o->recipient_name, "Recipient's name (1-30 characters)")->required();
  sub->add_option("--sender-name", o->sender_name, "Sender's name (default: the merchant)");
  sub->add_option("--sender-reference", o->sender_ref, "Sender's account reference");
  sub->add_option("--key", o->key, "Idempotency key")->required();
  AddNotesOptions(sub, o->notes);
  Help(sub,
       {R"(paymentctl --merchant acme push --card 4242424242424242 --amount 25.00 --currency USD --purpose FD --recipient-name "Ada Lovelace" --key payout-1)"},
       {kWriteOptions, kNetworkOptions}, R"(--merchant names the merchant. A decline is a result (exit 0).
Test cards: 4000000000000127 declines (57); 4000000000003220 is credited later (pending_credit);
4000000000000341 never answers (unknown, then a status inquiry resolves it).)");
  OnRun(sub, ctx, Needs::kEngineAndNetwork, [o](Context& c) { return RunPush(c, *o); });
}

struct P2pOptions {
  std::string from_card, from_expiry, cvv, to_card, amount, currency, sender_name, recipient_name, key;
  NotesOptions notes;
};

int RunP2p(Context& ctx, const P2pOptions& o) {
  auto minor = AmountIn(o.currency, o.amount);
  if (!minor) return PrintError(ctx, minor.error());
  auto notes = NotesOf(o.notes);
  if (!notes) return PrintError(ctx, notes.error());
  P2pRequest req{{o.from_card, o.from_expiry, o.cvv}, {o.to_card, "", ""}, *minor, o.currency,
                 o.sender_name, o.recipient_name, std::move(*notes)};
  return EmitPayment(ctx, ctx.engine->Submit(MakeCommand(ctx, o.key, std::move(req))));
}

void AddP2p(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<P2pOptions>();
  auto* sub = app.add_subcommand("p2p", "Person to person: pull from the sender's card (AFT), push to the recipient's (OCT)");
  sub->add_option("--from-card", o->from_card, "Sender's card number")->required();
  sub->add_option("--from-expiry", o->from_expiry, "Sender's card expiry MM/YY")->required();
  sub->add_option("--from-cvv", o->cvv, "Sender's card CVV");
  sub->add_option("--to-card", o->to_card, "Recipient's card number")->required();
  sub->add_option("--amount", o->amount, "Decimal amount")->required();
  sub->add_option("--currency", o->currency, "The merchant's currency")->required();
  sub->add_option("--sender-name", o->sender_name, "Sender's name");
  sub->add_option("--recipient-name", o->recipient_name, "Recipient's name");
  sub->add_option("--key", o->key, "Idempotency key")->required();
  AddNotesOptions(sub, o->notes);
  Help(sub,
       {"paymentctl --merchant acme p2p --from-card 5555555555554444 --from-expiry 12/30 --to-card 4242424242424242 --amount 20.00 --currency USD --key p2p-1"},
       {kWriteOptions, kNetworkOptions}, "--merchant names the merchant.");
  OnRun(sub, ctx, Needs::kEngineAndNetwork, [o](Context& c) { return RunP2p(c, *o); });
}

}  // namespace

void AddPushCommands(CLI::App& app, Context& ctx) {
  AddFund(app, ctx);
  AddPush(app, ctx);
  AddP2p(app, ctx);
}

}  // namespace pay::cli
