// The ledger's commands: init, account, transfer, entry, ledger, idempotency, velocity.

#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/print.h"
#include "core/json_keys.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/v1/ledger.pb.h"

namespace pay::cli {
namespace {

// ---- helpers --------------------------------------------------------------------------------

// Parses a decimal amount in the currency of `account`.
Result<int64_t> AmountFor(Context& ctx, const std::string& account, const std::string& text,
                          const std::string& account_field, const std::string& amount_field) {
  auto a = ctx.engine->GetAccount(account);
  if (!a) return Refield(a.error(), account_field);
  return ParseDecimalMinor(text, a->currency->exponent, amount_field);
}

Result<ledger::EntrySpec> EntrySpecFromJson(Context& ctx, const std::string& text) {
  v1::EntryRequest req;
  PAY_TRY(RefuseDuplicateJsonKeys(text, "entry"));
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(text, &req, opts);
  if (!status.ok()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "entry: invalid JSON entry: " + std::string(status.message()));
  }
  ledger::EntrySpec spec;
  spec.ref = req.ref();
  spec.description = req.description();
  spec.pending = req.pending();
  if (!req.expires_in().empty()) {
    PAY_ASSIGN_OR_RETURN(spec.expires_in_ms, ParseDurationMs(req.expires_in(), "expires_in"));
  }
  if (!req.expires_at().empty()) {
    PAY_ASSIGN_OR_RETURN(spec.expires_at_ms, ParseRfc3339Ms(req.expires_at(), "expires_at"));
  }
  if (req.postings_size() > static_cast<int>(limits::kPostingsPerEntryMax)) {
    return MakeError(ErrorCode::kLimitExceeded, "postings: more than " +
                                                    std::to_string(limits::kPostingsPerEntryMax));
  }
  for (int i = 0; i < req.postings_size(); ++i) {
    const auto& p = req.postings(i);
    std::string at = "postings[" + std::to_string(i) + "].";
    ledger::Posting posting;
    posting.account = p.account();
    PAY_ASSIGN_OR_RETURN(posting.side, ledger::ParseSide(p.side(), at + "side"));
    if (p.amount().empty() == (p.amount_minor() == 0)) {
      return MakeError(ErrorCode::kInvalidAmount, at + "amount: give exactly one of amount (decimal) "
                                                       "or amount_minor (integer)");
    }
    if (!p.amount().empty()) {
      PAY_ASSIGN_OR_RETURN(posting.amount_minor,
                           AmountFor(ctx, p.account(), p.amount(), at + "account", at + "amount"));
    } else {
      posting.amount_minor = p.amount_minor();
    }
    spec.postings.push_back(std::move(posting));
  }
  return spec;
}

Result<std::string> ReadInput(const std::string& path) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return MakeError(ErrorCode::kInvalidArgument, "file: cannot read '" + path + "'");
    ss << in.rdbuf();
  }
  std::string s = ss.str();
  if (s.size() > limits::kEntryJsonBytesMax) {
    return MakeError(ErrorCode::kLimitExceeded, "file: larger than " +
                                                    std::to_string(limits::kEntryJsonBytesMax) + " bytes");
  }
  return s;
}

// Prints {"<field>": n} or the text line.
int PrintCount(const Context& ctx, const char* field, size_t n, const std::string& text) {
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Field(field, static_cast<int64_t>(n)).EndObject();
    std::cout << w.str() << "\n";
  } else {
    std::cout << text << "\n";
  }
  return 0;
}

// ---- init -----------------------------------------------------------------------------------

int RunInit(Context& ctx) {
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Field("db", ctx.db_path);
    if (!ctx.partition_dbs.empty()) {
      w.Key("partitions").BeginArray();
      for (const auto& db : ctx.partition_dbs) w.String(db);
      w.EndArray();
    }
    w.Field("initialized", true).EndObject();
    std::cout << w.str() << "\n";
  } else if (!ctx.partition_dbs.empty()) {
    for (size_t k = 0; k < ctx.partition_dbs.size(); ++k) {
      std::cout << "initialized partition " << k << ": " << ctx.partition_dbs[k] << "\n";
    }
  } else {
    std::cout << "initialized " << ctx.db_path << "\n";
  }
  return 0;
}

void AddInit(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("init", "Create the database (idempotent)");
  Help(sub, {"paymentctl init", "paymentctl --db books.db init --json"}, {"--db --json --durability"});
  OnRun(sub, ctx, Needs::kNewEngine, RunInit);
}

// ---- account --------------------------------------------------------------------------------

struct AccountCreateOptions {
  std::string id, currency, type = "liability", overdraft_limit, key;
  bool no_overdraft = false;
  std::vector<std::string> meta;
};

int RunAccountCreate(Context& ctx, const AccountCreateOptions& o) {
  ledger::AccountSpec spec;
  spec.id = o.id;
  spec.currency = o.currency;
  auto type = ledger::ParseAccountType(o.type, "--type");
  if (!type) return PrintError(ctx, type.error());
  spec.type = *type;
  if (o.no_overdraft) spec.overdraft = ledger::OverdraftMode::kNone;
  if (!o.overdraft_limit.empty()) {
    auto cur = LookupCurrency(o.currency, "--currency");
    if (!cur) return PrintError(ctx, cur.error());
    auto lim = ParseDecimalMinor(o.overdraft_limit, (*cur)->exponent, "--overdraft-limit");
    if (!lim) return PrintError(ctx, lim.error());
    spec.overdraft = ledger::OverdraftMode::kLimit;
    spec.overdraft_limit_minor = *lim;
  }
  auto meta = ParsePairs(o.meta, "--meta");
  if (!meta) return PrintError(ctx, meta.error());
  spec.metadata = std::move(*meta);
  std::string key = o.key.empty() ? "account/" + spec.id : o.key;
  auto r = ctx.engine->Submit(MakeCommand(ctx, key, CreateAccountRequest{spec}));
  if (!r || r->declined || ctx.json) return EmitOutcome(ctx, r);
  if (r->replayed) std::cout << "(already existed with these attributes)\n";
  return EmitAccount(ctx, ctx.engine->GetAccount(spec.id));
}

void AddAccountCreate(CLI::App* account, Context& ctx) {
  auto o = std::make_shared<AccountCreateOptions>();
  auto* sub = account->add_subcommand("create", "Create an account (same attributes again: no-op)");
  sub->add_option("id", o->id, "Account id: 1-64 printable ASCII characters, no spaces")->required();
  sub->add_option("--currency", o->currency, "ISO 4217 code, e.g. USD, EUR, JPY, BHD")->required();
  sub->add_option("--type", o->type, "asset, liability, equity, revenue or expense (sets the normal side)")
      ->check(CLI::IsMember({"asset", "liability", "equity", "revenue", "expense"}));
  auto* no_od = sub->add_flag("--no-overdraft", o->no_overdraft, "Available balance may not go below zero");
  sub->add_option("--overdraft-limit", o->overdraft_limit, "Available balance may go this far below zero (decimal)")
      ->excludes(no_od);
  sub->add_option("--meta", o->meta, "key=value annotation (repeatable)");
  sub->add_option("--key", o->key, "Idempotency key (default: account/ID)");
  Help(sub,
       {"paymentctl account create cash --currency USD --type asset",
        "paymentctl account create alice --currency USD --no-overdraft --meta tier=gold",
        "paymentctl account create bob --currency EUR --overdraft-limit 50.00"},
       {kWriteOptions},
       "Without --no-overdraft or --overdraft-limit an account may go negative (e.g. a funding source).");
  OnRun(sub, ctx, Needs::kEngine, [o](Context& c) { return RunAccountCreate(c, *o); });
}

struct AccountShowOptions {
  std::string id, as_of;
  int64_t as_of_entry = -1;
};

int RunAccountShow(Context& ctx, const AccountShowOptions& o) {
  Engine& engine = *ctx.engine;
  if (!o.as_of.empty()) {
    auto t = ParseRfc3339Ms(o.as_of, "--as-of");
    if (!t) return PrintError(ctx, t.error());
    return EmitAccount(ctx, engine.GetAccountAsOf(o.id, {ledger::AsOf::By::kTime, *t}));
  }
  if (o.as_of_entry >= 0) {
    return EmitAccount(ctx, engine.GetAccountAsOf(o.id, {ledger::AsOf::By::kSeq, o.as_of_entry}));
  }
  return EmitAccount(ctx, engine.GetAccount(o.id));
}

void AddAccountShow(CLI::App* account, Context& ctx) {
  auto o = std::make_shared<AccountShowOptions>();
  auto* sub = account->add_subcommand("show", "Show balances (now, or as of a time or entry)");
  sub->add_option("id", o->id, "Account id")->required();
  auto* as_of_opt = sub->add_option("--as-of", o->as_of, "RFC 3339 time, e.g. 2026-11-28T12:00:00Z");
  sub->add_option("--as-of-entry", o->as_of_entry, "Entry sequence number (0: before the first entry)")
      ->excludes(as_of_opt)
      ->check(CLI::NonNegativeNumber);
  Help(sub,
       {"paymentctl account show alice --json", "paymentctl account show alice --as-of-entry 1",
        "paymentctl account show alice --as-of 2026-11-28T12:00:00Z"},
       {kReadOptions});
  OnRun(sub, ctx, Needs::kEngine, [o](Context& c) { return RunAccountShow(c, *o); });
}

int RunAccountList(Context& ctx, const ListOptions& o) {
  auto r = ctx.engine->ListAccounts(o.after, o.limit);
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Key("accounts").BeginArray();
    for (const ledger::Account& a : *r) w.Raw(AccountJson(a));
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
  } else {
    for (const ledger::Account& a : *r) {
      std::cout << a.id << "  " << ledger::AccountTypeName(a.type) << "  "
                << Decimal(a.balance_minor(), a.currency) << " " << a.currency->code
                << "  (available " << Decimal(a.available_minor(), a.currency) << ")\n";
    }
  }
  return 0;
}

void AddAccountList(CLI::App* account, Context& ctx) {
  auto o = std::make_shared<ListOptions>();
  auto* sub = account->add_subcommand("list", "List accounts in id order");
  AddListOptions(sub, *o, "Start after this id (paging)");
  Help(sub, {"paymentctl account list", "paymentctl account list --after alice --limit 10 --json"},
       {kReadOptions});
  OnRun(sub, ctx, Needs::kEngine, [o](Context& c) { return RunAccountList(c, *o); });
}

struct AccountHistoryOptions {
  std::string id;
  size_t limit = 100;
};

int RunAccountHistory(Context& ctx, const AccountHistoryOptions& o) {
  auto acct = ctx.engine->GetAccount(o.id);
  if (!acct) return PrintError(ctx, acct.error());
  auto r = ctx.engine->History(o.id, o.limit);
  if (!r) return PrintError(ctx, r.error());
  const Currency* c = acct->currency;
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Field("account", o.id).Field("currency", c->code).Key("lines").BeginArray();
    for (const auto& s : *r) {
      w.BeginObject();
      w.Field("entry", s.seq).Field("created_at", FormatRfc3339Ms(s.created_at_ms));
      w.Field("kind", ledger::EntryKindName(s.kind));
      if (!s.ref.empty()) w.Field("ref", s.ref);
      w.Field("description", s.description);
      w.Field("debit_minor", s.debit_minor).Field("credit_minor", s.credit_minor);
      w.Field("pending_change_minor", s.pending_change_minor);
      w.Field("balance_minor", s.balance_minor).Field("available_minor", s.available_minor);
      w.EndObject();
    }
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::cout << "entry  time                      kind      debit         credit        "
               "balance       available     ref\n";
  for (const auto& s : *r) {
    char line[256];
    std::snprintf(line, sizeof line, "%-6lld %-25s %-9s %-13s %-13s %-13s %-13s ",
                  static_cast<long long>(s.seq), FormatRfc3339Ms(s.created_at_ms).c_str(),
                  std::string(ledger::EntryKindName(s.kind)).c_str(),
                  s.debit_minor ? Decimal(s.debit_minor, c).c_str() : "",
                  s.credit_minor ? Decimal(s.credit_minor, c).c_str() : "",
                  Decimal(s.balance_minor, c).c_str(), Decimal(s.available_minor, c).c_str());
    std::cout << line << s.ref << "\n";
  }
  return 0;
}

void AddAccountHistory(CLI::App* account, Context& ctx) {
  auto o = std::make_shared<AccountHistoryOptions>();
  auto* sub = account->add_subcommand("history", "Statement: entries with running balance, oldest first");
  sub->add_option("id", o->id, "Account id")->required();
  sub->add_option("--limit", o->limit, "The newest N entries (max 10000)")->check(CLI::Range(1, 10000));
  Help(sub, {"paymentctl account history alice", "paymentctl account history alice --limit 20 --json"},
       {kReadOptions});
  OnRun(sub, ctx, Needs::kEngine, [o](Context& c) { return RunAccountHistory(c, *o); });
}

void AddAccountCommands(CLI::App& app, Context& ctx) {
  auto* account = app.add_subcommand("account", "Create and inspect accounts");
  account->require_subcommand(1);
  AddAccountCreate(account, ctx);
  AddAccountShow(account, ctx);
  AddAccountList(account, ctx);
  AddAccountHistory(account, ctx);
}

// ---- transfer -------------------------------------------------------------------------------

struct TransferOptions {
  std::string debit, credit, amount, key, ref, description, expires_in;
  bool pending = false;
};

int RunTransfer(Context& ctx, const TransferOptions& o) {
  auto minor = AmountFor(ctx, o.debit, o.amount, "--debit", "--amount");
  if (!minor) return PrintError(ctx, minor.error());
  ledger::EntrySpec spec;
  spec.ref = o.ref;
  spec.description = o.description;
  spec.pending = o.pending;
  if (!o.expires_in.empty()) {
    auto d = ParseDurationMs(o.expires_in, "--expires-in");
    if (!d) return PrintError(ctx, d.error());
    spec.expires_in_ms = *d;
  }
  spec.postings = {{o.debit, ledger::Side::kDebit, *minor}, {o.credit, ledger::Side::kCredit, *minor}};
  std::string key = o.key.empty() ? o.ref : o.key;
  if (key.empty()) {
    return PrintError(ctx, MakeError(ErrorCode::kInvalidIdempotencyKey,
                                     "--key: give an idempotency key (--key) or a reference (--ref)"));
  }
  return EmitOutcome(ctx, ctx.engine->Submit(MakeCommand(ctx, key, TransferRequest{spec})));
}

void AddTransfer(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<TransferOptions>();
  auto* sub = app.add_subcommand("transfer", "Move money between two accounts of one currency");
  sub->add_option("--debit", o->debit, "Account debited")->required();
  sub->add_option("--credit", o->credit, "Account credited")->required();
  sub->add_option("--amount", o->amount, "Exact decimal in the accounts' currency, e.g. 12.34")->required();
  sub->add_option("--key", o->key, "Idempotency key: a retry with the same key and request moves nothing");
  sub->add_option("--ref", o->ref, "Ledger reference of the entry (default: derived from the key); also the key when --key is absent");
  sub->add_option("--description", o->description, "Free text");
  auto* pend = sub->add_flag("--pending", o->pending, "Hold the amount (two-phase) instead of posting it");
  sub->add_option("--expires-in", o->expires_in, "With --pending: release the hold after 90s, 15m, 24h, 7d ...")
      ->needs(pend);
  Help(sub,
       {"paymentctl transfer --debit cash --credit alice --amount 100.00 --key deposit-1",
        "paymentctl transfer --debit alice --credit cash --amount 25.50 --ref hold-1 --pending --expires-in 7d"},
       {kWriteOptions});
  OnRun(sub, ctx, Needs::kEngine, [o](Context& c) { return RunTransfer(c, *o); });
}

// ---- entry ----------------------------------------------------------------------------------

struct EntryCreateOptions {
  std::string file = "-", key;
};

int RunEntryCreate(Context& ctx, const EntryCreateOptions& o) {
  auto text = ReadInput(o.file);
  if (!text) return PrintError(ctx, text.error());
  auto spec = EntrySpecFromJson(ctx, *text);
  if (!spec) return PrintError(ctx, spec.error());
  std::string key = o.key.empty() ? spec->ref : o.key;
  if (key.empty()) {
    return PrintError(ctx, MakeError(ErrorCode::kInvalidIdempotencyKey,
                                     "ref: the entry needs a ref (or give --key)"));
  }
  return EmitOutcome(ctx, ctx.engine->Submit(MakeCommand(ctx, key, TransferRequest{*spec})));
}

// An entry named by its id, with an optional idempotency key (entry show, post, void, reverse).
struct EntryOptions {
  int64_t id = 0;
  std::string key, amount, description;
};

int RunEntryPost(Context& ctx, const EntryOptions& o) {
  std::optional<int64_t> part;
  if (!o.amount.empty()) {
    auto held = ctx.engine->GetEntry(o.id);
    if (!held) return PrintError(ctx, held.error());
    if (held->legs.empty()) return PrintError(ctx, MakeError(ErrorCode::kNotPending, "entry: has no postings"));
    const Currency* c = FindCurrency(held->legs[0].currency);
    auto m = ParseDecimalMinor(o.amount, c ? c->exponent : 2, "--amount");
    if (!m) return PrintError(ctx, m.error());
    part = *m;
  }
  std::string key = !o.key.empty() ? o.key
                                   : "post/" + std::to_string(o.id) + "/" +
                                         (part ? std::to_string(*part) : std::string("full"));
  return EmitOutcome(ctx, ctx.engine->Submit(MakeCommand(ctx, key, PostRequest{o.id, part})));
}

int RunEntryVoid(Context& ctx, const EntryOptions& o) {
  std::string key = !o.key.empty() ? o.key : "void/" + std::to_string(o.id);
  return EmitOutcome(ctx, ctx.engine->Submit(MakeCommand(ctx, key, VoidRequest{o.id})));
}

int RunEntryReverse(Context& ctx, const EntryOptions& o) {
  return EmitOutcome(ctx, ctx.engine->Submit(
                              MakeCommand(ctx, o.key, ReverseRequest{o.id, o.description, o.key})));
}

void AddEntryCreate(CLI::App* entry, Context& ctx) {
  auto o = std::make_shared<EntryCreateOptions>();
  auto* sub = entry->add_subcommand("create", "Create an entry from JSON (see docs/ledger.md)");
  sub->add_option("file", o->file, "JSON file, or - for standard input");
  sub->add_option("--key", o->key, "Idempotency key (default: the entry's ref)");
  Help(sub, {R"(echo '{"ref":"split-1","postings":[
    {"account":"cash","side":"debit","amount":"10.00"},
    {"account":"alice","side":"credit","amount":"7.00"},
    {"account":"fees","side":"credit","amount":"3.00"}]}' | paymentctl entry create -)"},
       {kWriteOptions});
  OnRun(sub, ctx, Needs::kEngine, [o](Context& c) { return RunEntryCreate(c, *o); });
}

void AddEntryCommands(CLI::App& app, Context& ctx) {
  auto* entry = app.add_subcommand("entry", "Multi-posting entries, holds and reversals");
  entry->require_subcommand(1);
  AddEntryCreate(entry, ctx);

  auto show = std::make_shared<EntryOptions>();
  auto* eshow = entry->add_subcommand("show", "Show an entry");
  eshow->add_option("id", show->id, "Entry id")->required();
  Help(eshow, {"paymentctl entry show 2 --json"}, {kReadOptions});
  OnRun(eshow, ctx, Needs::kEngine,
        [show](Context& c) { return EmitEntry(c, c.engine->GetEntry(show->id)); });

  auto post = std::make_shared<EntryOptions>();
  auto* epost = entry->add_subcommand("post", "Post a pending entry, in full or in part");
  epost->add_option("id", post->id, "Pending entry id")->required();
  epost->add_option("--amount", post->amount, "Post only this much; the rest is released");
  epost->add_option("--key,--ref", post->key, "Idempotency key (default: post/ID/AMOUNT)");
  Help(epost, {"paymentctl entry post 2", "paymentctl entry post 2 --amount 20.00"}, {kWriteOptions});
  OnRun(epost, ctx, Needs::kEngine, [post](Context& c) { return RunEntryPost(c, *post); });

  auto void_ = std::make_shared<EntryOptions>();
  auto* evoid = entry->add_subcommand("void", "Release a pending entry");
  evoid->add_option("id", void_->id, "Pending entry id")->required();
  evoid->add_option("--key,--ref", void_->key, "Idempotency key (default: void/ID)");
  Help(evoid, {"paymentctl entry void 2"}, {kWriteOptions});
  OnRun(evoid, ctx, Needs::kEngine, [void_](Context& c) { return RunEntryVoid(c, *void_); });

  auto rev = std::make_shared<EntryOptions>();
  auto* erev = entry->add_subcommand("reverse", "Compensate a posted entry with a linked reversing entry");
  erev->add_option("id", rev->id, "Posted entry id")->required();
  erev->add_option("--key,--ref", rev->key, "Idempotency key of the reversal")->required();
  erev->add_option("--description", rev->description, "Free text");
  Help(erev, {"paymentctl entry reverse 1 --ref undo-deposit-1 --description \"sent twice\""},
       {kWriteOptions});
  OnRun(erev, ctx, Needs::kEngine, [rev](Context& c) { return RunEntryReverse(c, *rev); });
}

// ---- ledger, idempotency, velocity ----------------------------------------------------------

int RunVerify(Context& ctx) {
  auto r = ctx.engine->Verify();
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Field("ok", r->ok()).Field("entries_checked", r->entries_checked);
    w.Field("accounts_checked", r->accounts_checked).Field("head_hash", r->head_hash_hex);
    w.Field("problems_total", r->problems_total).Key("problems").BeginArray();
    for (const auto& p : r->problems) w.String(p);
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
  } else {
    for (const auto& p : r->problems) std::cout << "problem: " << p << "\n";
    std::cout << (r->ok() ? "ok" : "FAILED") << ": " << r->entries_checked << " entries, "
              << r->accounts_checked << " accounts, " << r->problems_total << " problems, head "
              << r->head_hash_hex << "\n";
  }
  return r->ok() ? 0 : 1;
}

int RunExpireHolds(Context& ctx) {
  // One bounded transaction at a time, until nothing is due.
  size_t total = 0;
  for (;;) {
    auto n = ctx.engine->ExpireHolds(limits::kExpirySweepPerTransactionMax);
    if (!n) return PrintError(ctx, n.error());
    total += *n;
    if (*n < limits::kExpirySweepPerTransactionMax) break;
    if (!ctx.json) std::cerr << "released " << total << " holds so far\n";
  }
  return PrintCount(ctx, "expired", total, "released " + std::to_string(total) + " expired holds");
}

int RunPurge(Context& ctx) {
  auto r = ctx.engine->PurgeIdempotencyKeys();
  if (!r) return PrintError(ctx, r.error());
  return PrintCount(ctx, "purged", *r, "purged " + std::to_string(*r) + " idempotency keys");
}

struct VelocityStatusOptions {
  std::string key, rule;
};

int RunVelocityStatus(Context& ctx, const VelocityStatusOptions& o) {
  auto r = ctx.engine->VelocityStatus(o.rule, o.key);
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Key("windows").BeginArray();
    for (const auto& s : *r) {
      w.BeginObject().Field("rule", s.rule).Field("key", s.key).Field("algorithm", s.algorithm);
      w.Field("window_ms", s.window_ms).Field("limit", s.limit).Field("used", s.used);
      w.Field("remaining", s.remaining).Field("retry_after_ms", s.retry_after_ms);
      w.Field("mode", s.shadow ? "shadow" : "enforce").EndObject();
    }
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  for (const auto& s : *r) {
    std::cout << s.rule << "  " << s.key << "  " << s.algorithm << " " << s.window_ms / 1000
              << "s  used " << s.used << " of " << s.limit << ", remaining " << s.remaining;
    if (s.retry_after_ms > 0) std::cout << ", retry after " << s.retry_after_ms << " ms";
    if (s.shadow) std::cout << " (shadow)";
    std::cout << "\n";
  }
  return 0;
}

void AddMaintenanceCommands(CLI::App& app, Context& ctx) {
  auto* ledger_cmd = app.add_subcommand("ledger", "Whole-ledger operations");
  ledger_cmd->require_subcommand(1);
  auto* verify = ledger_cmd->add_subcommand("verify", "Recompute balances, conservation and the hash chain");
  Help(verify, {"paymentctl ledger verify", "paymentctl ledger verify --json"}, {kReadOptions},
       "Exit status 1 when any problem is found.");
  OnRun(verify, ctx, Needs::kEngine, RunVerify);
  auto* expire = ledger_cmd->add_subcommand("expire", "Release every hold past its expiry now");
  Help(expire, {"paymentctl ledger expire"}, {"--db --json --durability"});
  OnRun(expire, ctx, Needs::kEngine, RunExpireHolds);

  auto* idem = app.add_subcommand("idempotency", "Idempotency keys");
  idem->require_subcommand(1);
  auto* purge = idem->add_subcommand("purge", "Remove keys older than the retention (--idempotency-retention)");
  Help(purge, {"paymentctl idempotency purge", "paymentctl --idempotency-retention 7d idempotency purge"},
       {"--db --json --idempotency-retention --durability"});
  OnRun(purge, ctx, Needs::kEngine, RunPurge);

  auto* velocity = app.add_subcommand("velocity", "Velocity limits");
  velocity->require_subcommand(1);
  auto o = std::make_shared<VelocityStatusOptions>();
  auto* vstatus = velocity->add_subcommand("status", "Show a key's windows in every rule keyed like it");
  vstatus->add_option("--key", o->key, "The rule's key dimensions in order, e.g. merchant=acme or merchant=acme;ip=10.0.0.1")->required();
  vstatus->add_option("--rule", o->rule, "Only this rule");
  Help(vstatus,
       {"paymentctl --config velocity.toml velocity status --key merchant=default",
        "paymentctl --config docs/examples/velocity.toml velocity status --key merchant=acme --json"},
       {"--db --json --config"});
  OnRun(vstatus, ctx, Needs::kEngine, [o](Context& c) { return RunVelocityStatus(c, *o); });
}

}  // namespace

void AddLedgerCommands(CLI::App& app, Context& ctx) {
  AddInit(app, ctx);
  AddAccountCommands(app, ctx);
  AddTransfer(app, ctx);
  AddEntryCommands(app, ctx);
  AddMaintenanceCommands(app, ctx);
}

}  // namespace pay::cli
