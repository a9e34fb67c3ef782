// paymentctl: argument parsing and printing only; all work goes through the engine. The global
// options are here; the subcommands are in the command groups (cli/commands.h), what they open
// in cli/context.h, and how they print in cli/print.h.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/context.h"
#include "cli/print.h"

#ifndef PAYMENTCTL_VERSION
#error "PAYMENTCTL_VERSION must be defined (the project version, by cli/CMakeLists.txt)"
#endif

namespace pay::cli {
namespace {

constexpr const char* kExamples = R"(Examples:
  paymentctl init
  paymentctl account create cash --currency USD --type asset
  paymentctl account create alice --currency USD --no-overdraft
  paymentctl transfer --debit cash --credit alice --amount 100.00 --key deposit-1
  paymentctl transfer --debit alice --credit cash --amount 25.50 --ref hold-1 --pending --expires-in 7d
  paymentctl entry post 2 --amount 20.00
  paymentctl account show alice --json
  paymentctl account history alice
  paymentctl ledger verify
  paymentctl merchant create acme --currency USD --fee-bps 250
  paymentctl authorize --merchant acme --card 4242424242424242 --expiry 12/30 --amount 25.00 --currency USD --key order-1
  paymentctl capture pay_000000000001 --merchant acme --amount 20.00 --key cap-1
  paymentctl refund pay_000000000001 --merchant acme --amount 5.00 --key refund-1
  paymentctl settle

Environment:
  PAYMENTCTL_DB    database path when --db is not given (default ./paymentctl.db)
  PAYMENTCTL_CONFIG velocity rules file when --config is not given
  PAYMENTCTL_NOW   fixed engine time (RFC 3339) for scripted runs and tests
  PAYMENTCTL_CARD_KEY_FILE  card fingerprint key file when --card-key-file is not given

Exit status: 0 success, 2 invalid input or usage, 1 any other error (including a failed verify).)";

void AddGlobalOptions(CLI::App& app, Context& ctx) {
  app.set_version_flag("--version", std::string("paymentctl ") + PAYMENTCTL_VERSION,
                       "Print the version and exit");
  app.add_option("--db", ctx.db_path, "SQLite database file, or a PostgreSQL connection string (postgresql://... or host=... dbname=...); env PAYMENTCTL_DB");
  app.add_flag("--json", ctx.json, "Print one JSON object (money in integer *_minor fields)");
  app.add_option("--merchant", ctx.merchant, "The merchant a command names or acts for; the idempotency scope and velocity key of money-moving commands (default: \"default\")");
  app.add_option("--config", ctx.config_path, "Velocity rules (TOML, see docs/examples/velocity.toml); env PAYMENTCTL_CONFIG");
  app.add_option("--idempotency-retention", ctx.retention, "How long idempotency keys are kept (e.g. 24h, 7d)");
  app.add_option("--network", ctx.network, "Card network: sim (in-process issuer simulator, <db>.issuer) or tcp://HOST:PORT (paymentctl network-sim)");
  app.add_option("--network-faults", ctx.network_faults, "Faults of the in-process network, e.g. drop_response=5,late=2,latency=1-20,seed=7");
  app.add_option("--network-deadline", ctx.network_deadline, "How long to wait for a network response (e.g. 2s, 500ms)");
  app.add_option("--authorization-validity", ctx.authorization_validity, "How long an authorization may be captured (e.g. 7d, 30d); expired ones are released");
  app.add_option("--issuer-db", ctx.issuer_db, "The issuer simulator's SQLite file (--network sim); default <db>.issuer, required when --db is a PostgreSQL connection string");
  app.add_option("--shard", ctx.shards, "A partition of the books, K=DB (a SQLite file or a PostgreSQL connection string), repeated for K = 0, 1, ...: merchants are spread over the partitions, each with its own writer lock (docs/scale-out.md); instead of --db, partition 0 keeps the API keys")
      ->allow_extra_args(false);
  app.add_option("--replica-db", ctx.replica_db, "A streaming replica of --db (PostgreSQL connection string) for reads; each read waits until the replica has the primary's commits of that moment (50 ms at most, then reads the primary)");
  app.add_option("--max-db-pages", ctx.max_db_pages, "A size quota: the database may not grow past this many pages (4 KiB each; 0: none); writes past it fail like on a full disk and change nothing");
  app.add_option("--exchange-grace", ctx.exchange_grace, "How long a network exchange left unanswered (by a crash) stays open before it is given up: reversed or inquired (default 60s; keep it above --network-deadline)");
  app.add_option("--card-key-file", ctx.card_key_file, "Card fingerprint key (HMAC-SHA256, >= 16 bytes); default <db>.card-key, created on first use");
  app.add_option("--durability", ctx.durability, "full (fsync every commit) or normal (WAL, may lose the last commits on power loss)")
      ->check(CLI::IsMember({"full", "normal"}));
}

// For a parse error where a command was expected and none (or an unknown word) was given: what
// to say, naming the commands that exist at that level. Empty for any other error.
std::string UnknownCommand(const CLI::App& app, const CLI::ParseError& e, bool one_line) {
  const bool extras = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
  if (!extras && dynamic_cast<const CLI::RequiredError*>(&e) == nullptr) return "";
  const CLI::App* at = &app;
  std::string path = app.get_name();
  for (auto subs = at->get_subcommands(); !subs.empty(); subs = at->get_subcommands()) {
    at = subs.back();
    path += " " + at->get_name();
  }
  auto commands = at->get_subcommands([](const CLI::App*) { return true; });
  if (commands.empty()) return "";  // a leaf command: CLI11's message says what is wrong
  std::string word, option;  // the first unknown word and option left over
  for (const std::string& r : app.remaining(true)) {
    std::string& slot = !r.empty() && r[0] == '-' ? option : word;
    if (slot.empty()) slot = r;
  }
  if (word.empty() && extras) return "";  // an unknown option, not a command
  std::string out = path + ": " + (word.empty() ? "a command is required" : "unknown command '" + word + "'");
  if (word.empty() && !option.empty()) out += " (unknown option '" + option + "')";
  out += one_line ? "; commands:" : ". The commands:\n";
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string& name = commands[i]->get_name();
    if (one_line) {
      out += (i == 0 ? " " : ", ") + name;
    } else {
      out += "  " + name + std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') +
             commands[i]->get_description() + "\n";
    }
  }
  if (!one_line) out += "Run `" + path + " COMMAND --help` for a command's options and examples.";
  return out;
}

// A command line that did not parse (or asked for --help or --version): exit 0 for those, else 2,
// with a JSON error when --json was among the arguments.
int ParseFailure(const CLI::App& app, Context& ctx, const CLI::ParseError& e, int argc, char** argv) {
  bool wants_json = false;
  for (int i = 1; i < argc; ++i) wants_json = wants_json || std::string_view(argv[i]) == "--json";
  if (e.get_exit_code() == 0) return app.exit(e) == 0 ? 0 : 2;
  const std::string unknown = UnknownCommand(app, e, wants_json);
  if (!wants_json) {
    if (unknown.empty()) return app.exit(e) == 0 ? 0 : 2;
    std::cerr << unknown << "\n";
    return 2;
  }
  ctx.json = true;
  return PrintError(ctx, MakeError(ErrorCode::kInvalidArgument,
                                   "usage: " + (unknown.empty() ? std::string(e.what()) : unknown)));
}

}  // namespace

int Main(int argc, char** argv) {
  Context ctx;
  const char* env_db = std::getenv("PAYMENTCTL_DB");
  ctx.db_path = env_db != nullptr && *env_db != '\0' ? env_db : "paymentctl.db";
  if (const char* env_cfg = std::getenv("PAYMENTCTL_CONFIG"); env_cfg != nullptr) ctx.config_path = env_cfg;

  CLI::App app{"paymentctl: a double-entry payment ledger", "paymentctl"};
  app.footer(kExamples);
  app.require_subcommand(1);
  app.fallthrough();  // global options (--json, --db) may follow the subcommand
  app.option_defaults()->always_capture_default();
  AddGlobalOptions(app, ctx);
  AddLedgerCommands(app, ctx);
  AddCardCommands(app, ctx);
  AddPushCommands(app, ctx);
  AddFileCommands(app, ctx);
  AddServerCommands(app, ctx);
  AddEventCommands(app, ctx);
  AddMcpCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, ctx, e, argc, argv);
  }
  if (!ctx.run) return 2;  // unreachable: every level requires a subcommand
  ctx.db_given = app.get_option("--db")->count() > 0;
  if (auto r = TakeShards(ctx); !r) return PrintError(ctx, r.error());
  if (ctx.needs != Needs::kNothing) {
    ctx.wants_network = ctx.needs == Needs::kEngineAndNetwork || ctx.needs == Needs::kServer;
    ctx.background_advices = ctx.needs == Needs::kServer;
    if (auto r = Open(ctx, ctx.needs == Needs::kNewEngine); !r) return PrintError(ctx, r.error());
  }
  return ctx.run(ctx);
}

}  // namespace pay::cli

int main(int argc, char** argv) {
  try {
    return pay::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "paymentctl: internal error: " << e.what() << "\n";
    return 1;
  }
}
