// Transaction files: replay, generate, demo.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "adapters/files/transaction_files.h"
#include "cli/commands.h"
#include "cli/print.h"
#include "core/json_writer.h"
#include "pay/card_network.h"

namespace pay::cli {
namespace {

// Velocity rules the demo uses when no --config is given: the shipped card and payout rules.
constexpr const char* kDemoRules = R"toml(
[[rule]]
name = "authorizations-per-card"
operations = ["authorize"]
key = ["card"]
  [[rule.window]]
  algorithm = "sliding_window_counter"
  window = "1h"
  limit = 10

[[rule]]
name = "pushes-per-recipient-card"
operations = ["push", "p2p"]
key = ["recipient_card"]
  [[rule.window]]
  algorithm = "sliding_log"
  window = "24h"
  limit = 5
)toml";

// "1m05s", "42s".
std::string Duration(double s) {
  const auto whole = static_cast<long long>(s + 0.5);
  char out[32];
  if (whole >= 60) {
    std::snprintf(out, sizeof out, "%lldm%02llds", whole / 60, whole % 60);
  } else {
    std::snprintf(out, sizeof out, "%llds", whole);
  }
  return out;
}

// A progress line on a terminal (stderr; never when stderr is not a terminal, nor with --json):
// the share of the file read, records, rate and the time left; one final line at the end.
std::function<void(uint64_t, uint64_t, uint64_t)> ProgressBar(const Context& ctx) {
  if (!::isatty(2) || ctx.json) return nullptr;
  struct State {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    bool finished = false;
  };
  auto state = std::make_shared<State>();
  return [state](uint64_t done, uint64_t total, uint64_t records) {
    if (state->finished) return;
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - state->started).count();
    const int pct = total > 0 ? static_cast<int>(std::min(done, total) * 100 / total) : 100;
    const double rate = s > 0 ? static_cast<double>(records) / s : 0.0;
    std::string tail;
    if (done >= total) {
      state->finished = true;
      tail = "done in " + Duration(s) + "\n";
    } else if (done > 0) {
      tail = "ETA " + Duration(s * static_cast<double>(total - done) / static_cast<double>(done));
    }
    const std::string bar(static_cast<size_t>(pct / 4), '#');
    std::fprintf(stderr, "\r[%-25s] %3d%%  %llu records  %.0f/s  %-14s", bar.c_str(), pct,
                 static_cast<unsigned long long>(records), rate, tail.c_str());
    std::fflush(stderr);
  };
}

// Basis points as a percentage with two decimals ("93.17%").
std::string Percent(int64_t bps) {
  char out[32];
  std::snprintf(out, sizeof out, "%lld.%02lld%%", static_cast<long long>(bps / 100),
                static_cast<long long>(bps % 100));
  return out;
}

std::string Money(int64_t minor, const std::string& currency) {
  return Decimal(minor, FindCurrency(currency)) + " " + currency;
}

// What the payment records of the database add up to, per currency, beside the acquirer's own
// settlement and fee accounts (which must say the same).
void PrintBooks(const files::ReplaySummary& s, const char* indent) {
  for (const auto& [cur, b] : s.books.by_currency) {
    const files::AcquirerBalances a =
        s.acquirer.count(cur) ? s.acquirer.at(cur) : files::AcquirerBalances{};
    std::cout << indent << "authorized  " << Money(b.authorized_minor, cur) << "\n"
              << indent << "captured    " << Money(b.captured_minor, cur) << "\n"
              << indent << "refunded    " << Money(b.refunded_minor, cur) << "\n"
              << indent << "settled     " << Money(b.settled_minor, cur) << "  (acq/" << cur
              << "/settlement holds " << Decimal(a.settlement_minor, FindCurrency(cur)) << ")\n"
              << indent << "fees        " << Money(b.fee_minor, cur) << "  (acq/" << cur
              << "/fees holds " << Decimal(a.fees_minor, FindCurrency(cur)) << ")\n"
              << indent << "net paid to merchants " << Money(b.settled_minor - b.fee_minor, cur)
              << "\n"
              << indent << "pushed      " << Money(b.pushed_minor, cur) << ", funded from cards "
              << Money(b.funded_minor, cur) << "\n";
  }
}

// Authorizations, the approval rate, and every reason a record was not applied.
void PrintOutcomes(const files::ReplaySummary& s, const char* in) {
  const files::AuthorizationCounts& a = s.authorizations;
  std::cout << in << "authorizations " << a.attempted << ": approved " << a.approved
            << ", declined by the issuer " << a.declined << ", refused before the network "
            << a.refused << ", no answer (reversed) " << a.unknown << "\n"
            << in << "approval rate  " << Percent(files::ApprovalRateBps(a))
            << " (approved / attempted)\n";
  int64_t issuer = 0, books = 0, velocity = 0;
  for (const auto& [code, n] : s.issuer_declines_by_code) issuer += n;
  for (const auto& [code, n] : s.book_refusals_by_code) books += n;
  for (const auto& [rule, n] : s.velocity_by_rule) velocity += n;
  std::cout << in << "declined by the issuer " << issuer
            << " (authorizations, payouts, card funding)\n";
  for (const auto& [code, n] : s.issuer_declines_by_code) {
    const ResponseCodeMeaning m = DescribeResponseCode(code);
    char line[160];
    std::snprintf(line, sizeof line, "%s  %s %-32s %6lld  %s\n", in, code.c_str(),
                  m.decline_code.c_str(), static_cast<long long>(n), m.reason.c_str());
    std::cout << line;
  }
  std::cout << in << "refused by the books " << books << "\n";
  for (const auto& [code, n] : s.book_refusals_by_code)
    std::cout << in << "  " << code << "  " << n << "\n";
  std::cout << in << "refused by velocity rules " << velocity << "\n";
  for (const auto& [rule, n] : s.velocity_by_rule)
    std::cout << in << "  " << rule << "  " << n << "\n";
  if (s.followups_unapproved > 0) {
    std::cout << in << "follow-ups of payments never approved " << s.followups_unapproved
              << " (captures, voids, refunds of declined or refused payments: not run)\n";
  }
  std::cout << in << "input errors " << s.errors << "\n";
  for (const auto& [code, n] : s.errors_by_code)
    std::cout << in << "  " << code << "  " << n << "\n";
  if (!s.first_error.empty()) std::cout << in << "  first: " << s.first_error << "\n";
}

void PrintSettlements(const files::ReplaySummary& s, const char* in) {
  std::cout << in << s.settlements << " settle record(s) settled " << s.settled_payments
            << " payments";
  for (const auto& [cur, nf] : s.settled_minor) {
    std::cout << ", " << Money(nf.first, cur) << " net, fees "
              << Decimal(nf.second, FindCurrency(cur));
  }
  std::cout << "\n";
}

// ---- replay ---------------------------------------------------------------------------------

struct ReplayCommandOptions {
  std::string file, results, format;
  bool derive_keys = false;
  size_t batch_records = 1000;
};

void PrintSummaryText(const files::ReplaySummary& s) {
  std::cout << "records            " << s.records << "\n"
            << "applied            " << s.applied << "\n"
            << "idempotent replays " << s.replayed
            << (s.replayed == s.records ? "  (all: nothing moved)" : "") << "\n";
  PrintOutcomes(s, "");
  std::cout << "settlements        ";
  PrintSettlements(s, "");
  std::cout << "the books after the replay (every payment in the database)\n";
  PrintBooks(s, "  ");
  std::cout << "  payments in doubt " << s.books.in_doubt
            << ", authorizations expiring within a day " << s.books.expiring << "\n";
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f s, %.0f records/s", s.elapsed_s,
                s.elapsed_s > 0 ? static_cast<double>(s.records) / s.elapsed_s : 0.0);
  std::cout << "elapsed            " << rate << "\n"
            << "ledger verify      " << (s.verify_ok ? "ok" : "FAILED") << "  audit hash " << s.audit_hash << "\n";
}

int RunReplay(Context& ctx, const ReplayCommandOptions& o) {
  auto format = files::FormatFor(o.file, o.format);
  if (!format) return PrintError(ctx, format.error());
  ManualClock* clock = nullptr;
  if (auto r = Open(ctx, false, &clock); !r) return PrintError(ctx, r.error());
  files::ReplayOptions ro;
  ro.path = o.file;
  ro.format = *format;
  ro.results_path = o.results;
  ro.derive_keys = o.derive_keys;
  ro.batch_records = o.batch_records;
  ro.progress = ProgressBar(ctx);
  auto sum = files::Replay(*ctx.engine, *clock, ro);
  if (!sum) return PrintError(ctx, sum.error());
  if (ctx.json) {
    std::cout << files::SummaryJson(*sum) << "\n";
  } else {
    PrintSummaryText(*sum);
  }
  return sum->verify_ok ? 0 : 1;
}

void AddReplay(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ReplayCommandOptions>();
  auto* sub = app.add_subcommand("replay", "Replay a transaction file through the engine (idempotent, resumable)");
  sub->add_option("file", o->file, "JSON Lines (.jsonl) or length-delimited binary (.pb) records")->required();
  sub->add_option("--results", o->results, "Write one JSON line per record (outcome, payment id, response code, error)");
  sub->add_option("--format", o->format, "jsonl or binary (default: by extension)");
  sub->add_flag("--derive-keys", o->derive_keys, "Records without an idempotency key get <file digest>:<record number>");
  sub->add_option("--batch", o->batch_records, "Records per engine batch (one durable commit)")->check(CLI::Range(1, 100000));
  Help(sub,
       {"paymentctl generate --records 100000 --out day.pb && paymentctl init && paymentctl replay day.pb --results results.jsonl",
        "paymentctl replay day.jsonl --derive-keys --json"},
       {"--db --json --config --idempotency-retention --durability", kNetworkOptions},
       "The records' event times are the engine clock. Replaying the same file again moves nothing.");
  OnRun(sub, ctx, Needs::kNothing, [o](Context& c) { return RunReplay(c, *o); });
}

// ---- generate -------------------------------------------------------------------------------

struct GenerateCommandOptions {
  std::string out, format, start = "2026-11-28T00:00:00Z";
  int64_t records = 10000;
  uint64_t seed = 1;
  int merchants = 5, cards = 1000, days = 1;
  bool cards_given = false;
};

int RunGenerate(Context& ctx, const GenerateCommandOptions& o) {
  auto format = files::FormatFor(o.out, o.format);
  if (!format) return PrintError(ctx, format.error());
  files::GenerateOptions g;
  g.records = o.records;
  g.seed = o.seed;
  g.merchants = o.merchants;
  // Enough cards that open-to-buy (10,000.00 each) does not run out over the file.
  g.cards = o.cards_given ? o.cards : static_cast<int>(std::max<int64_t>(1000, o.records / 10));
  g.start_time = o.start;
  g.duration_ms = static_cast<int64_t>(o.days) * 24 * 3600 * 1000;
  auto n = files::Generate(o.out, *format, g);
  if (!n) return PrintError(ctx, n.error());
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Field("records", *n).Field("file", o.out).EndObject();
    std::cout << w.str() << "\n";
  } else {
    std::cout << "wrote " << *n << " records to " << o.out << "\n";
  }
  return 0;
}

void AddGenerate(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<GenerateCommandOptions>();
  auto* sub = app.add_subcommand("generate", "Write a realistic transaction file (a simulated day or more)");
  sub->add_option("--records", o->records, "How many records")->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  sub->add_option("--seed", o->seed, "Random seed (same seed, same file)");
  sub->add_option("--out", o->out, "Output file (.jsonl or .pb)")->required();
  sub->add_option("--format", o->format, "jsonl or binary (default: by extension)");
  sub->add_option("--merchants", o->merchants, "Merchants")->check(CLI::Range(1, 10000));
  auto* cards = sub->add_option("--cards", o->cards, "Distinct cards (default: one per 10 records, at least 1000)")
                    ->check(CLI::Range(1, 100000000));
  sub->add_option("--start", o->start, "Start of the simulated period (RFC 3339)");
  sub->add_option("--days", o->days, "Length of the simulated period in days")->check(CLI::Range(1, 365));
  Help(sub,
       {"paymentctl generate --records 1000000 --seed 7 --out million.pb",
        "paymentctl generate --records 1000 --merchants 2 --days 3 --out week.jsonl"},
       {"--json"});
  OnRun(sub, ctx, Needs::kNothing, [o, cards](Context& c) {
    o->cards_given = cards->count() > 0;
    return RunGenerate(c, *o);
  });
}

// ---- demo -----------------------------------------------------------------------------------

// Prints the demo's report: the day in numbers, settlement, the merchants' balances. `sum`'s
// books were read again after the end-of-day settlement.
void PrintDemoReport(Engine& engine, const files::ReplaySummary& sum, const Engine::SettleReport& settled) {
  char line[256];
  std::snprintf(line, sizeof line, "\n   %lld records in %.2f s (%.0f records/s)\n",
                static_cast<long long>(sum.records), sum.elapsed_s,
                sum.elapsed_s > 0 ? static_cast<double>(sum.records) / sum.elapsed_s : 0.0);
  std::cout << line;
  std::cout << "\n3. the day in numbers (from the payment records and the acquirer's accounts)\n";
  PrintBooks(sum, "   ");
  std::cout << "   applied " << sum.applied << " records\n";
  PrintOutcomes(sum, "   ");
  std::cout << "\n4. settlement: the file's ";
  PrintSettlements(sum, "");
  if (settled.payments == 0) {
    std::cout << "   then the demo's own settlement run: nothing left to settle\n";
  } else {
    std::cout << "   then the demo's own settlement run settled " << settled.payments << " more";
    for (const auto& [cur, net, fee] : settled.totals) {
      std::cout << ", " << Money(net, cur) << " net, fees " << Decimal(fee, FindCurrency(cur));
    }
    std::cout << "\n";
  }
  const Currency* c = FindCurrency("USD");
  std::cout << "\n5. balances of the merchants (USD)\n";
  std::cout << "   merchant   available      pending      prefunded\n";
  for (int i = 0; i < 5; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "m%03d", i);
    auto a = engine.GetAccount(std::string("m/") + id + "/available");
    auto p = engine.GetAccount(std::string("m/") + id + "/pending");
    auto d = engine.GetAccount(std::string("m/") + id + "/disbursement");
    if (!a || !p || !d) continue;
    std::snprintf(line, sizeof line, "   %-8s %12s %12s %14s\n", id, Decimal(a->balance_minor(), c).c_str(),
                  Decimal(p->balance_minor(), c).c_str(), Decimal(d->balance_minor(), c).c_str());
    std::cout << line;
  }
}

int RunDemo(Context& ctx, int64_t records) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::temp_directory_path() / ("paymentctl-demo-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  if (!ctx.db_given) ctx.db_path = (dir / "demo.db").string();
  if (std::ifstream(ctx.db_path)) {
    return PrintError(ctx, MakeError(ErrorCode::kInvalidArgument,
                                     "--db: '" + ctx.db_path + "' exists; the demo wants a fresh database"));
  }
  if (ctx.config_path.empty()) {
    ctx.config_path = (dir / "velocity.toml").string();
    std::ofstream(ctx.config_path) << kDemoRules;
  }
  const std::string file = (dir / "day.pb").string();
  std::cout << "paymentctl demo: one simulated day of a small acquirer\n\n";
  std::cout << "1. generate " << records << " records (5 merchants, 2,000 cards, seed 42) -> " << file << "\n";
  files::GenerateOptions g;
  g.records = records;
  g.seed = 42;
  g.cards = 2000;
  if (auto n = files::Generate(file, files::Format::kBinary, g); !n) return PrintError(ctx, n.error());
  std::cout << "2. replay them through the engine on a fresh database (" << ctx.db_path << "),\n"
            << "   durable commits, the in-process card network and issuer simulator, velocity rules on\n";
  ManualClock* clock = nullptr;
  if (auto r = Open(ctx, true, &clock); !r) return PrintError(ctx, r.error());
  files::ReplayOptions ro;
  ro.path = file;
  ro.format = files::Format::kBinary;
  ro.progress = ProgressBar(ctx);
  auto sum = files::Replay(*ctx.engine, *clock, ro);
  if (!sum) return PrintError(ctx, sum.error());
  auto settled = ctx.engine->Settle();
  if (!settled) return PrintError(ctx, settled.error());
  if (auto books = files::ReadBooks(*ctx.engine, clock->NowMs(), &*sum); !books) {
    return PrintError(ctx, books.error());
  }
  auto verify = ctx.engine->Verify();
  if (!verify) return PrintError(ctx, verify.error());
  auto issuer_verify = ctx.issuer->Verify();
  if (!issuer_verify) return PrintError(ctx, issuer_verify.error());
  PrintDemoReport(*ctx.engine, *sum, *settled);
  std::cout << "\n6. the books\n"
            << "   acquirer ledger: " << (verify->ok() ? "verified" : "FAILED") << ", "
            << verify->entries_checked << " entries, audit hash " << verify->head_hash_hex.substr(0, 16) << "...\n"
            << "   issuer ledger:   " << (issuer_verify->ok() ? "verified" : "FAILED") << ", "
            << issuer_verify->entries_checked << " entries\n";
  std::cout << "\nReplay the same file again and nothing moves: paymentctl --db " << ctx.db_path
            << " replay " << file << "\n";
  return verify->ok() && issuer_verify->ok() ? 0 : 1;
}

void AddDemo(CLI::App& app, Context& ctx) {
  auto records = std::make_shared<int64_t>(20000);
  auto* sub = app.add_subcommand("demo", "Generate a day, replay it on a fresh database, settle, verify, report");
  sub->add_option("--records", *records, "Records in the generated day")->check(CLI::Range(int64_t{100}, int64_t{10000000}));
  Help(sub, {"paymentctl demo", "paymentctl demo --records 50000   (uses a fresh database in a temporary directory unless --db is given)"},
       {"--db --config --durability"});
  OnRun(sub, ctx, Needs::kNothing, [records](Context& c) { return RunDemo(c, *records); });
}

}  // namespace

void AddFileCommands(CLI::App& app, Context& ctx) {
  AddReplay(app, ctx);
  AddGenerate(app, ctx);
  AddDemo(app, ctx);
}

}  // namespace pay::cli
