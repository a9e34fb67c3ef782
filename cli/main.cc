// paymentctl: argument parsing and printing only. All work goes through the ledger (and, from
// the engine issue on, through the engine).

#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "adapters/files/transaction_files.h"
#include "adapters/server/server.h"
#include "adapters/network/faults.h"
#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"
#include "adapters/network/tcp_network.h"
#include "core/crypto.h"
#include "core/json_fields.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/store.h"
#include "core/time_format.h"
#include "pay/engine.h"
#include "pay/v1/ledger.pb.h"

namespace pay::cli {
namespace {

using ledger::Account;
using ledger::Entry;

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

// Everything a command needs, opened on demand.
struct Context {
  std::string db_path;
  bool json = false;
  std::string durability = "full";
  std::string merchant;
  std::string config_path;
  std::string retention = "24h";
  std::unique_ptr<Clock> clock;
  // The card network: "sim" (in-process, issuer simulator in <db>.issuer) or tcp://HOST:PORT.
  bool wants_network = false;
  std::string network = "sim";
  std::string network_faults;
  std::string network_deadline = "2s";
  std::string card_key_file;
  std::string authorization_validity = "7d";
  std::unique_ptr<network::Issuer> issuer;
  std::unique_ptr<CardNetwork> card_network;
  std::unique_ptr<Engine> engine;
};

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

Result<std::unique_ptr<CardNetwork>> ConnectTcpNetwork(const std::string& spec, int64_t deadline_ms);

// The card fingerprint key: --card-key-file, else PAYMENTCTL_CARD_KEY_FILE, else <db>.card-key,
// created with 32 random bytes (mode 0600) the first time a card is seen.
Result<std::string> CardKey(const Context& ctx) {
  std::string path = ctx.card_key_file;
  if (path.empty()) {
    if (const char* env = std::getenv("PAYMENTCTL_CARD_KEY_FILE"); env != nullptr && *env != '\0') path = env;
  }
  const bool default_path = path.empty();
  if (default_path) path = ctx.db_path + ".card-key";
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (key.size() < 16) {
      return MakeError(ErrorCode::kInvalidConfig,
                       "--card-key-file: '" + path + "' holds fewer than 16 bytes");
    }
    return key;
  }
  if (!default_path) {
    return MakeError(ErrorCode::kInvalidConfig, "--card-key-file: cannot read '" + path + "'");
  }
  PAY_ASSIGN_OR_RETURN(std::string key, RandomBytes(32));
  std::FILE* f = std::fopen(path.c_str(), "wbx");  // never overwrite a key
  if (f == nullptr) return MakeError(ErrorCode::kStoreIo, "card key: cannot create '" + path + "'");
  const bool ok = std::fwrite(key.data(), 1, key.size(), f) == key.size();
  std::fclose(f);
  if (!ok) return MakeError(ErrorCode::kStoreIo, "card key: cannot write '" + path + "'");
  ::chmod(path.c_str(), 0600);
  return key;
}

Result<void> OpenNetwork(Context& ctx, EngineOptions& o) {
  PAY_ASSIGN_OR_RETURN(int64_t deadline_ms, ParseDurationMs(ctx.network_deadline, "--network-deadline"));
  network::FaultConfig faults;
  if (!ctx.network_faults.empty()) {
    PAY_ASSIGN_OR_RETURN(faults, network::ParseFaultConfig(ctx.network_faults));
  }
  if (ctx.network == "sim") {
    network::IssuerOptions io;
    io.db_path = ctx.db_path + ".issuer";
    io.durable = ctx.durability != "normal";
    io.clock = ctx.clock.get();
    PAY_ASSIGN_OR_RETURN(ctx.issuer, network::Issuer::Open(io));
    ctx.card_network = std::make_unique<network::SimulatedCardNetwork>(*ctx.issuer, faults, deadline_ms);
  } else {
    PAY_ASSIGN_OR_RETURN(ctx.card_network, ConnectTcpNetwork(ctx.network, deadline_ms));
  }
  o.card_network = ctx.card_network.get();
  PAY_ASSIGN_OR_RETURN(o.card_fingerprint_key, CardKey(ctx));
  return {};
}

// Opens the engine (and, for card commands, the network). With `replay_clock` the engine runs on
// a ManualClock the replay sets to the records' event times, with the network, and with no grace
// for exchanges left open (a replay is the only writer).
Result<void> Open(Context& ctx, bool create, ManualClock** replay_clock = nullptr) {
  if (replay_clock != nullptr) {
    auto manual = std::make_unique<ManualClock>(0);
    *replay_clock = manual.get();
    ctx.clock = std::move(manual);
    ctx.wants_network = true;
  } else if (const char* now = std::getenv("PAYMENTCTL_NOW"); now != nullptr && *now != '\0') {
    PAY_ASSIGN_OR_RETURN(int64_t ms, ParseRfc3339Ms(now, "PAYMENTCTL_NOW"));
    ctx.clock = std::make_unique<ManualClock>(ms);
  } else {
    ctx.clock = std::make_unique<SystemClock>();
  }
  EngineOptions o;
  o.db_path = ctx.db_path;
  o.create_if_missing = create;
  o.durability = ctx.durability == "normal" ? Durability::kNormal : Durability::kFull;
  o.clock = ctx.clock.get();
  o.velocity_config_path = ctx.config_path;
  PAY_ASSIGN_OR_RETURN(o.idempotency_retention_ms, ParseDurationMs(ctx.retention, "--idempotency-retention"));
  PAY_ASSIGN_OR_RETURN(o.authorization_validity_ms,
                       ParseDurationMs(ctx.authorization_validity, "--authorization-validity"));
  if (replay_clock != nullptr) o.exchange_grace_ms = 0;
  if (ctx.wants_network) {
    // The engine must exist before the issuer's file is made next to it.
    if (!create) {
      std::ifstream probe(ctx.db_path);
      if (!probe) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "db: '" + ctx.db_path + "' does not exist (run `paymentctl init`)");
      }
    }
    PAY_TRY(OpenNetwork(ctx, o));
  }
  PAY_ASSIGN_OR_RETURN(ctx.engine, Engine::Open(o));
  return {};
}

std::string Decimal(int64_t minor, const Currency* c) {
  return FormatMinor(minor, c != nullptr ? c->exponent : 0);
}

void PrintAccountText(const Account& a) {
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

void PrintEntryText(const Entry& e) {
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

int EmitEntry(const Context& ctx, const Result<Entry>& r) {
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    std::cout << EntryJson(*r) << "\n";
  } else {
    PrintEntryText(*r);
  }
  return 0;
}

int EmitAccount(const Context& ctx, const Result<Account>& r) {
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json) {
    std::cout << AccountJson(*r) << "\n";
  } else {
    PrintAccountText(*r);
  }
  return 0;
}

// Prints what a money-moving command answered. JSON: the stored body, with "replayed" put in
// front (the body's own bytes follow unchanged). Text: the account or entry, or the decline.
int EmitOutcome(Context& ctx, const Result<Outcome>& r) {
  if (!r) return PrintError(ctx, r.error());
  const Outcome& o = *r;
  if (ctx.json) {
    std::cout << "{\"replayed\":" << (o.replayed ? "true" : "false")
              << (o.body.size() > 2 ? "," : "") << o.body.substr(1) << "\n";
    return o.declined ? 1 : 0;
  }
  if (o.replayed) std::cout << "(idempotent replay: this key was answered before; nothing moved)\n";
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

Command MakeCommand(const Context& ctx, std::string key, Request request) {
  Command c;
  c.merchant = ctx.merchant;
  c.idempotency_key = std::move(key);
  c.channel = Channel::kCli;
  c.request = std::move(request);
  return c;
}

// The same error, naming `field` (the CLI's option) instead of the library's field name.
Error Refield(Error e, const std::string& field) {
  size_t colon = e.message.find(": ");
  e.message = field + ": " + (colon == std::string::npos ? e.message : e.message.substr(colon + 2));
  return e;
}

// Parses a decimal amount in the currency of `account`.
Result<int64_t> AmountFor(Context& ctx, const std::string& account, const std::string& text,
                          const std::string& account_field, const std::string& amount_field) {
  auto a = ctx.engine->GetAccount(account);
  if (!a) return Refield(a.error(), account_field);
  return ParseDecimalMinor(text, a->currency->exponent, amount_field);
}

Result<ledger::EntrySpec> EntrySpecFromJson(Context& ctx, const std::string& text) {
  v1::EntryRequest req;
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


// ---- card payments ------------------------------------------------------------------------------

Result<std::unique_ptr<CardNetwork>> ConnectTcpNetwork(const std::string& spec, int64_t deadline_ms) {
  constexpr std::string_view kScheme = "tcp://";
  std::string_view rest(spec);
  if (rest.substr(0, kScheme.size()) != kScheme) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--network: '" + spec + "' is neither sim nor tcp://HOST:PORT");
  }
  rest.remove_prefix(kScheme.size());
  size_t colon = rest.rfind(':');
  int port = 0;
  if (colon == std::string_view::npos ||
      std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), port).ec != std::errc() ||
      port <= 0 || port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument, "--network: '" + spec + "' needs tcp://HOST:PORT");
  }
  network::TcpClientOptions options;
  options.deadline_ms = deadline_ms;
  PAY_ASSIGN_OR_RETURN(auto net, network::TcpCardNetwork::Connect(std::string(rest.substr(0, colon)),
                                                                   static_cast<uint16_t>(port), options));
  return std::unique_ptr<CardNetwork>(std::move(net));
}

// `paymentctl network-sim`: the issuer simulator behind a TCP listener, until a signal.
int RunNetworkSim(Context& ctx, const std::string& listen, const std::string& issuer_db,
                  const std::string& faults_text) {
  auto where = network::ParseHostPort(listen, "--listen");
  if (!where) return PrintError(ctx, where.error());
  network::FaultConfig faults;
  if (!faults_text.empty()) {
    auto f = network::ParseFaultConfig(faults_text);
    if (!f) return PrintError(ctx, Refield(f.error(), "--faults"));
    faults = *f;
  }
  if (const char* now = std::getenv("PAYMENTCTL_NOW"); now != nullptr && *now != '\0') {
    auto ms = ParseRfc3339Ms(now, "PAYMENTCTL_NOW");
    if (!ms) return PrintError(ctx, ms.error());
    ctx.clock = std::make_unique<ManualClock>(*ms);
  } else {
    ctx.clock = std::make_unique<SystemClock>();
  }
  network::IssuerOptions io;
  io.db_path = issuer_db.empty() ? ctx.db_path + ".issuer" : issuer_db;
  io.durable = ctx.durability != "normal";
  io.clock = ctx.clock.get();
  auto issuer = network::Issuer::Open(io);
  if (!issuer) return PrintError(ctx, issuer.error());
  auto server = network::TcpNetworkServer::Start(**issuer, faults, where->first, where->second);
  if (!server) return PrintError(ctx, server.error());
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Field("listening", where->first + ":" + std::to_string((*server)->port()));
    w.Field("issuer_db", io.db_path).Field("faults", network::FaultConfigString(faults)).EndObject();
    std::cout << w.str() << std::endl;
  } else {
    std::cout << "network-sim listening on " << where->first << ":" << (*server)->port()
              << " (issuer " << io.db_path << ", faults " << network::FaultConfigString(faults)
              << "); stop with Ctrl-C" << std::endl;
  }
  (*server)->WaitForSignal();
  auto stats = (*server)->stats();
  std::cerr << "network-sim: " << stats.messages << " messages, " << stats.echoes << " echoes, "
            << stats.connections << " connections, " << stats.malformed << " malformed frames\n";
  return 0;
}

std::string JsonText(std::string_view json, std::string_view name) { return JsonStringField(json, name); }
int64_t JsonInt(std::string_view json, std::string_view name) { return JsonIntField(json, name); }

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

// What a card command answered. A network decline is a result (exit 0); a refusal by the books
// (illegal transition, refund over the captured amount, ...) exits 1.
int EmitPayment(Context& ctx, const Result<Outcome>& r) {
  if (!r) return PrintError(ctx, r.error());
  if (ctx.json || r->declined) return EmitOutcome(ctx, r);
  if (r->replayed) std::cout << "(idempotent replay: this key was answered before; nothing moved)\n";
  PrintPaymentText(r->body);
  if (r->payment_status == "unknown") {
    std::cout << "(no answer from the network: a reversal is queued; `paymentctl payment show` "
                 "tells when it is acknowledged)\n";
  }
  return 0;
}

// Parses a decimal amount in the currency of a payment.
Result<std::optional<int64_t>> PaymentAmount(Context& ctx, const std::string& payment_id,
                                             const std::string& text, const std::string& field) {
  if (text.empty()) return std::optional<int64_t>();
  auto json = ctx.engine->PaymentJson(payment_id);
  if (!json) return Refield(json.error(), "payment_id");
  const Currency* c = FindCurrency(JsonText(*json, "currency"));
  PAY_ASSIGN_OR_RETURN(int64_t minor, ParseDecimalMinor(text, c != nullptr ? c->exponent : 2, field));
  return std::optional<int64_t>(minor);
}


// ---- transaction files ----------------------------------------------------------------------

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

// A progress line on a terminal (never when stderr is piped).
std::function<void(uint64_t, uint64_t, uint64_t)> ProgressBar(const Context& ctx) {
  if (!::isatty(2) || ctx.json) return nullptr;
  auto started = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [started](uint64_t done, uint64_t total, uint64_t records) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - *started).count();
    const int pct = total > 0 ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 0;
    const int bar = pct / 4;
    std::fprintf(stderr, "\r[%-25s] %3d%%  %llu records  %.0f/s ", std::string(static_cast<size_t>(bar), '#').c_str(),
                 pct, static_cast<unsigned long long>(records), s > 0 ? static_cast<double>(records) / s : 0.0);
    if (done >= total) std::fprintf(stderr, "\n");
  };
}

int RunDemo(Context& ctx, int64_t records, bool db_given) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::temp_directory_path() / ("paymentctl-demo-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  if (!db_given) ctx.db_path = (dir / "demo.db").string();
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
  Engine& L = *ctx.engine;
  auto settled = L.Settle();
  if (!settled) return PrintError(ctx, settled.error());
  auto verify = L.Verify();
  if (!verify) return PrintError(ctx, verify.error());
  auto issuer_verify = ctx.issuer->Verify();
  if (!issuer_verify) return PrintError(ctx, issuer_verify.error());

  char line[256];
  std::snprintf(line, sizeof line, "\n   %lld records in %.2f s (%.0f records/s)\n",
                static_cast<long long>(sum->records), sum->elapsed_s,
                sum->elapsed_s > 0 ? static_cast<double>(sum->records) / sum->elapsed_s : 0.0);
  std::cout << line;
  const auto& usd = sum->totals_minor.count("USD") ? sum->totals_minor.at("USD") : std::map<std::string, int64_t>{};
  auto total = [&](const char* op) { auto it = usd.find(op); return it == usd.end() ? int64_t{0} : it->second; };
  const Currency* c = FindCurrency("USD");
  std::cout << "\n3. the day in numbers\n"
            << "   authorized  " << Decimal(total("authorize"), c) << " USD\n"
            << "   captured    " << Decimal(total("capture"), c) << " USD (where an amount was given)\n"
            << "   refunded    " << Decimal(total("refund"), c) << " USD\n"
            << "   pushed      " << Decimal(total("push"), c) << " USD, P2P " << Decimal(total("p2p"), c) << " USD\n"
            << "   applied " << sum->applied << ", declined " << sum->declined << ", errors " << sum->errors << "\n";
  int64_t declined_codes = 0;
  for (const auto& [code, n] : sum->declined_by_code) declined_codes += n;
  std::cout << "   declines by code:";
  for (const auto& [code, n] : sum->declined_by_code) std::cout << "  " << code << "=" << n;
  std::cout << "\n   velocity refusals:";
  if (sum->velocity_by_rule.empty()) std::cout << " none";
  for (const auto& [rule, n] : sum->velocity_by_rule) std::cout << "  " << rule << "=" << n;
  std::cout << "\n\n4. settlement: " << settled->payments << " more payments settled at the end of the day\n";
  std::cout << "\n5. balances of the merchants (USD)\n";
  std::cout << "   merchant   available      pending      prefunded\n";
  for (int i = 0; i < 5; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "m%03d", i);
    auto a = L.GetAccount(std::string("m/") + id + "/available");
    auto p = L.GetAccount(std::string("m/") + id + "/pending");
    auto d = L.GetAccount(std::string("m/") + id + "/disbursement");
    if (!a || !p || !d) continue;
    std::snprintf(line, sizeof line, "   %-8s %12s %12s %14s\n", id, Decimal(a->balance_minor(), c).c_str(),
                  Decimal(p->balance_minor(), c).c_str(), Decimal(d->balance_minor(), c).c_str());
    std::cout << line;
  }
  std::cout << "\n6. the books\n"
            << "   acquirer ledger: " << (verify->ok() ? "verified" : "FAILED") << ", "
            << verify->entries_checked << " entries, audit hash " << verify->head_hash_hex.substr(0, 16) << "...\n"
            << "   issuer ledger:   " << (issuer_verify->ok() ? "verified" : "FAILED") << ", "
            << issuer_verify->entries_checked << " entries\n";
  std::cout << "\nReplay the same file again and nothing moves: paymentctl --db " << ctx.db_path
            << " replay " << file << "\n";
  return verify->ok() && issuer_verify->ok() ? 0 : 1;
}

void PrintSummaryText(const files::ReplaySummary& s) {
  std::cout << "records            " << s.records << "\n"
            << "applied            " << s.applied << "\n"
            << "idempotent replays " << s.replayed << (s.replayed == s.records ? "  (all: nothing moved)" : "") << "\n"
            << "declined           " << s.declined << "\n";
  for (const auto& [code, n] : s.declined_by_code) std::cout << "  " << code << "  " << n << "\n";
  std::cout << "velocity refusals  ";
  int64_t v = 0;
  for (const auto& [rule, n] : s.velocity_by_rule) v += n;
  std::cout << v << "\n";
  for (const auto& [rule, n] : s.velocity_by_rule) std::cout << "  " << rule << "  " << n << "\n";
  std::cout << "errors             " << s.errors << "\n";
  for (const auto& [code, n] : s.errors_by_code) std::cout << "  " << code << "  " << n << "\n";
  if (!s.first_error.empty()) std::cout << "  first: " << s.first_error << "\n";
  for (const auto& [cur, ops] : s.totals_minor) {
    const Currency* c = FindCurrency(cur);
    std::cout << "totals " << cur << "\n";
    for (const auto& [op, minor] : ops) std::cout << "  " << op << "  " << Decimal(minor, c) << "\n";
  }
  std::cout << "settlements        " << s.settlements << "\n";
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f s, %.0f records/s", s.elapsed_s,
                s.elapsed_s > 0 ? static_cast<double>(s.records) / s.elapsed_s : 0.0);
  std::cout << "elapsed            " << rate << "\n"
            << "ledger verify      " << (s.verify_ok ? "ok" : "FAILED") << "  audit hash " << s.audit_hash << "\n";
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
  app.add_option("--db", ctx.db_path, "SQLite database file (env PAYMENTCTL_DB)");
  app.add_flag("--json", ctx.json, "Print one JSON object (money in integer *_minor fields)");
  app.add_option("--merchant", ctx.merchant, "Idempotency scope and velocity key of money-moving commands (default: \"default\")");
  app.add_option("--config", ctx.config_path, "Velocity rules (TOML, see docs/examples/velocity.toml); env PAYMENTCTL_CONFIG");
  app.add_option("--idempotency-retention", ctx.retention, "How long idempotency keys are kept (e.g. 24h, 7d)");
  app.add_option("--network", ctx.network, "Card network: sim (in-process issuer simulator, <db>.issuer) or tcp://HOST:PORT (paymentctl network-sim)");
  app.add_option("--network-faults", ctx.network_faults, "Faults of the in-process network, e.g. drop_response=5,late=2,latency=1-20,seed=7");
  app.add_option("--network-deadline", ctx.network_deadline, "How long to wait for a network response (e.g. 2s, 500ms)");
  app.add_option("--authorization-validity", ctx.authorization_validity, "How long an authorization may be captured (e.g. 7d, 30d); expired ones are released");
  app.add_option("--card-key-file", ctx.card_key_file, "Card fingerprint key (HMAC-SHA256, >= 16 bytes); default <db>.card-key, created on first use");
  app.add_option("--durability", ctx.durability, "full (fsync every commit) or normal (WAL, may lose the last commits on power loss)")
      ->check(CLI::IsMember({"full", "normal"}));

  auto* init = app.add_subcommand("init", "Create the database (idempotent)");

  auto* account = app.add_subcommand("account", "Create and inspect accounts");
  account->require_subcommand(1);
  std::string idem_key;
  std::string acct_id, acct_currency, acct_type = "liability", acct_limit, as_of;
  int64_t as_of_entry = -1;
  bool no_overdraft = false;
  std::vector<std::string> meta;
  auto* acreate = account->add_subcommand("create", "Create an account (same attributes again: no-op)");
  acreate->add_option("id", acct_id, "Account id: 1-64 printable ASCII characters, no spaces")->required();
  acreate->add_option("--currency", acct_currency, "ISO 4217 code, e.g. USD, EUR, JPY, BHD")->required();
  acreate->add_option("--type", acct_type, "asset, liability, equity, revenue or expense (sets the normal side)")
      ->check(CLI::IsMember({"asset", "liability", "equity", "revenue", "expense"}));
  auto* no_od = acreate->add_flag("--no-overdraft", no_overdraft, "Available balance may not go below zero");
  acreate->add_option("--overdraft-limit", acct_limit, "Available balance may go this far below zero (decimal)")
      ->excludes(no_od);
  acreate->add_option("--meta", meta, "key=value annotation (repeatable)");
  acreate->add_option("--key", idem_key, "Idempotency key (default: account/ID)");
  acreate->footer("Without --no-overdraft or --overdraft-limit an account may go negative (e.g. a funding source).");

  auto* ashow = account->add_subcommand("show", "Show balances (now, or as of a time or entry)");
  ashow->add_option("id", acct_id, "Account id")->required();
  auto* as_of_opt = ashow->add_option("--as-of", as_of, "RFC 3339 time, e.g. 2026-11-28T12:00:00Z");
  ashow->add_option("--as-of-entry", as_of_entry, "Entry sequence number (0: before the first entry)")
      ->excludes(as_of_opt)
      ->check(CLI::NonNegativeNumber);

  std::string after;
  size_t limit = 100;
  auto* alist = account->add_subcommand("list", "List accounts in id order");
  alist->add_option("--after", after, "Start after this id (paging)");
  alist->add_option("--limit", limit, "At most this many (max 10000)")->check(CLI::Range(1, 10000));

  auto* ahist = account->add_subcommand("history", "Statement: entries with running balance, oldest first");
  ahist->add_option("id", acct_id, "Account id")->required();
  ahist->add_option("--limit", limit, "The newest N entries (max 10000)")->check(CLI::Range(1, 10000));

  std::string debit, credit, amount, ref, description, expires_in;
  bool pending = false;
  auto* transfer = app.add_subcommand("transfer", "Move money between two accounts of one currency");
  transfer->add_option("--debit", debit, "Account debited")->required();
  transfer->add_option("--credit", credit, "Account credited")->required();
  transfer->add_option("--amount", amount, "Exact decimal in the accounts' currency, e.g. 12.34")->required();
  transfer->add_option("--key", idem_key, "Idempotency key: a retry with the same key and request moves nothing");
  transfer->add_option("--ref", ref, "Ledger reference of the entry (default: derived from the key); also the key when --key is absent");
  transfer->add_option("--description", description, "Free text");
  auto* pend = transfer->add_flag("--pending", pending, "Hold the amount (two-phase) instead of posting it");
  transfer->add_option("--expires-in", expires_in, "With --pending: release the hold after 90s, 15m, 24h, 7d ...")
      ->needs(pend);

  auto* entry = app.add_subcommand("entry", "Multi-posting entries, holds and reversals");
  entry->require_subcommand(1);
  std::string file = "-";
  int64_t entry_id = 0;
  auto* ecreate = entry->add_subcommand("create", "Create an entry from JSON (see docs/ledger.md)");
  ecreate->add_option("file", file, "JSON file, or - for standard input");
  ecreate->add_option("--key", idem_key, "Idempotency key (default: the entry's ref)");
  ecreate->footer(R"(Example:
  echo '{"ref":"split-1","postings":[
    {"account":"cash","side":"debit","amount":"10.00"},
    {"account":"alice","side":"credit","amount":"7.00"},
    {"account":"fees","side":"credit","amount":"3.00"}]}' | paymentctl entry create -)");
  auto* eshow = entry->add_subcommand("show", "Show an entry");
  eshow->add_option("id", entry_id, "Entry id")->required();
  auto* epost = entry->add_subcommand("post", "Post a pending entry, in full or in part");
  epost->add_option("id", entry_id, "Pending entry id")->required();
  epost->add_option("--amount", amount, "Post only this much; the rest is released");
  epost->add_option("--key,--ref", idem_key, "Idempotency key (default: post/ID/AMOUNT)");
  auto* evoid = entry->add_subcommand("void", "Release a pending entry");
  evoid->add_option("id", entry_id, "Pending entry id")->required();
  evoid->add_option("--key,--ref", idem_key, "Idempotency key (default: void/ID)");
  auto* erev = entry->add_subcommand("reverse", "Compensate a posted entry with a linked reversing entry");
  erev->add_option("id", entry_id, "Posted entry id")->required();
  erev->add_option("--key,--ref", ref, "Idempotency key of the reversal")->required();
  erev->add_option("--description", description, "Free text");

  auto* ledger_cmd = app.add_subcommand("ledger", "Whole-ledger operations");
  ledger_cmd->require_subcommand(1);
  auto* verify = ledger_cmd->add_subcommand("verify", "Recompute balances, conservation and the hash chain");
  auto* expire = ledger_cmd->add_subcommand("expire", "Release every hold past its expiry now");

  auto* idem = app.add_subcommand("idempotency", "Idempotency keys");
  idem->require_subcommand(1);
  auto* purge = idem->add_subcommand("purge", "Remove keys older than the retention (--idempotency-retention)");
  auto* velocity = app.add_subcommand("velocity", "Velocity limits");
  velocity->require_subcommand(1);
  std::string vkey, vrule;
  auto* vstatus = velocity->add_subcommand("status", "Show a key's windows in every rule keyed like it");
  vstatus->add_option("--key", vkey, "The rule's key dimensions in order, e.g. merchant=acme or merchant=acme;ip=10.0.0.1")->required();
  vstatus->add_option("--rule", vrule, "Only this rule");
  vstatus->footer("Example: paymentctl --config velocity.toml velocity status --key merchant=default");


  // Card pull payments.
  auto* merchant_cmd = app.add_subcommand("merchant", "Merchants of the card rails");
  merchant_cmd->require_subcommand(1);
  std::string m_id, m_currency, m_fee_fixed;
  int32_t m_fee_bps = 0;
  auto* mcreate = merchant_cmd->add_subcommand("create", "Create a merchant and its accounts (same attributes again: no-op)");
  mcreate->add_option("id", m_id, "Merchant id: 1-48 printable ASCII characters, no spaces or '/'")->required();
  mcreate->add_option("--currency", m_currency, "The merchant's currency (ISO 4217)")->required();
  mcreate->add_option("--fee-bps", m_fee_bps, "Settlement fee in basis points of the net (250 = 2.5%)")->check(CLI::Range(0, 10000));
  mcreate->add_option("--fee-fixed", m_fee_fixed, "Settlement fee per payment (decimal)");
  mcreate->add_option("--key", idem_key, "Idempotency key (default: merchant/ID)");
  mcreate->footer("Example: paymentctl merchant create acme --currency USD --fee-bps 250 --fee-fixed 0.30");

  std::string card_pan, card_expiry, card_cvv, pay_amount, pay_currency, payment_id;
  bool final_capture = false;
  auto* authorize = app.add_subcommand("authorize", "Authorize a card payment (a hold on both sides of the network)");
  authorize->add_option("--card", card_pan, "Card number (never stored: only its fingerprint, BIN and last four)")->required();
  authorize->add_option("--expiry", card_expiry, "Expiry MM/YY")->required();
  authorize->add_option("--cvv", card_cvv, "CVV (checked by the issuer, never stored or logged)");
  authorize->add_option("--amount", pay_amount, "Decimal amount, e.g. 25.00")->required();
  authorize->add_option("--currency", pay_currency, "ISO 4217 code; the merchant's currency")->required();
  authorize->add_option("--key", idem_key, "Idempotency key")->required();
  authorize->footer(R"(--merchant names the merchant. A decline is a result (exit 0, status declined).
Test cards: 4242424242424242 approves; 4000000000000002 -> 05; 4000000000009995 -> 51;
4000000000000077 -> 10 (half); 4000000000000341 -> no answer (unknown, then reversed).
Example: paymentctl authorize --merchant acme --card 4242424242424242 --expiry 12/30 --amount 25.00 --currency USD --key order-1)");
  auto* increment = app.add_subcommand("increment", "Incremental authorization: grow an authorized payment's hold");
  increment->add_option("payment_id", payment_id, "Payment id (pay_...)")->required();
  increment->add_option("--amount", pay_amount, "Decimal amount to add")->required();
  increment->add_option("--key", idem_key, "Idempotency key")->required();
  increment->footer("Example: paymentctl increment pay_000000000001 --merchant acme --amount 5.00 --key order-1-more");
  auto* capture = app.add_subcommand("capture", "Capture all or part of an authorization");
  capture->add_option("payment_id", payment_id, "Payment id (pay_...)")->required();
  capture->add_option("--amount", pay_amount, "Decimal amount (default: all still authorized)");
  capture->add_flag("--final", final_capture, "Release what stays authorized after this capture");
  capture->add_option("--key", idem_key, "Idempotency key")->required();
  capture->footer("Example: paymentctl capture pay_000000000001 --merchant acme --amount 10.00 --key cap-1");
  auto* pvoid = app.add_subcommand("void", "Void an authorization (nothing captured yet): the hold is released");
  pvoid->add_option("payment_id", payment_id, "Payment id (pay_...)")->required();
  pvoid->add_option("--key", idem_key, "Idempotency key")->required();
  pvoid->footer("Example: paymentctl void pay_000000000001 --merchant acme --key void-1");
  auto* refund = app.add_subcommand("refund", "Refund all or part of what was captured");
  refund->add_option("payment_id", payment_id, "Payment id (pay_...)")->required();
  refund->add_option("--amount", pay_amount, "Decimal amount (default: all captured and not yet refunded)");
  refund->add_option("--key", idem_key, "Idempotency key")->required();
  refund->footer("Example: paymentctl refund pay_000000000001 --merchant acme --amount 5.00 --key refund-1");
  // Push payments.
  std::string fund_merchant, from_card, from_expiry, to_card, purpose, recipient_name, sender_name, sender_ref;
  auto* fund = app.add_subcommand("fund", "Prefund a merchant's disbursement balance: a bank top-up, or an AFT from a card");
  fund->add_option("merchant", fund_merchant, "Merchant id")->required();
  fund->add_option("--amount", pay_amount, "Decimal amount")->required();
  fund->add_option("--currency", pay_currency, "The merchant's currency")->required();
  fund->add_option("--key", idem_key, "Idempotency key")->required();
  auto* fund_card = fund->add_option("--from-card", card_pan, "Pull the funds from this card (AFT) instead of a bank top-up");
  fund->add_option("--expiry", card_expiry, "With --from-card: expiry MM/YY")->needs(fund_card);
  fund->add_option("--cvv", card_cvv, "With --from-card: CVV")->needs(fund_card);
  fund->footer(R"(Examples:
  paymentctl fund acme --amount 5000.00 --currency USD --key topup-1
  paymentctl fund acme --amount 100.00 --currency USD --key topup-2 --from-card 4242424242424242 --expiry 12/30)");
  auto* push_cmd = app.add_subcommand("push", "Disburse to a card (OCT) out of the merchant's prefunded balance");
  push_cmd->add_option("--card", card_pan, "Recipient card number")->required();
  push_cmd->add_option("--amount", pay_amount, "Decimal amount")->required();
  push_cmd->add_option("--currency", pay_currency, "The merchant's currency")->required();
  push_cmd->add_option("--purpose", purpose, "Business application identifier: AA, BB, BI, BP, CP, FD, GD, GP, LO, MD, MP, OG, PD, PP, PS, TU, WT")->required();
  push_cmd->add_option("--recipient-name", recipient_name, "Recipient's name (1-30 characters)")->required();
  push_cmd->add_option("--sender-name", sender_name, "Sender's name (default: the merchant)");
  push_cmd->add_option("--sender-reference", sender_ref, "Sender's account reference");
  push_cmd->add_option("--key", idem_key, "Idempotency key")->required();
  push_cmd->footer(R"(--merchant names the merchant. A decline is a result (exit 0).
Test cards: 4000000000000127 declines (57); 4000000000003220 is credited later (pending_credit);
4000000000000341 never answers (unknown, then a status inquiry resolves it).
Example: paymentctl --merchant acme push --card 4242424242424242 --amount 25.00 --currency USD --purpose FD --recipient-name "Ada Lovelace" --key payout-1)");
  auto* p2p = app.add_subcommand("p2p", "Person to person: pull from the sender's card (AFT), push to the recipient's (OCT)");
  p2p->add_option("--from-card", from_card, "Sender's card number")->required();
  p2p->add_option("--from-expiry", from_expiry, "Sender's card expiry MM/YY")->required();
  p2p->add_option("--from-cvv", card_cvv, "Sender's card CVV");
  p2p->add_option("--to-card", to_card, "Recipient's card number")->required();
  p2p->add_option("--amount", pay_amount, "Decimal amount")->required();
  p2p->add_option("--currency", pay_currency, "The merchant's currency")->required();
  p2p->add_option("--sender-name", sender_name, "Sender's name");
  p2p->add_option("--recipient-name", recipient_name, "Recipient's name");
  p2p->add_option("--key", idem_key, "Idempotency key")->required();
  p2p->footer("Example: paymentctl --merchant acme p2p --from-card 5555555555554444 --from-expiry 12/30 --to-card 4242424242424242 --amount 20.00 --currency USD --key p2p-1");
  auto* payment_cmd = app.add_subcommand("payment", "Inspect card payments");
  payment_cmd->require_subcommand(1);
  auto* pshow = payment_cmd->add_subcommand("show", "Show a payment and its history");
  pshow->add_option("payment_id", payment_id, "Payment id (pay_...)")->required();
  auto* plist = payment_cmd->add_subcommand("list", "List payments in id order (--merchant: of one merchant)");
  plist->add_option("--after", after, "Start after this payment id (paging)");
  plist->add_option("--limit", limit, "At most this many (max 10000)")->check(CLI::Range(1, 10000));
  auto* presolve = payment_cmd->add_subcommand("resolve", "Deliver queued network advices (reversals of unknown payments first)");
  auto* pexpire = payment_cmd->add_subcommand("expire", "Expire authorizations past their validity now");
  std::string sim_listen = "127.0.0.1:8583", sim_issuer_db, sim_faults;
  auto* netsim = app.add_subcommand("network-sim", "Run the card network simulator (issuer included) on TCP until SIGINT/SIGTERM");
  netsim->add_option("--listen", sim_listen, "HOST:PORT to listen on (port 0: a free port, printed)");
  netsim->add_option("--issuer-db", sim_issuer_db, "The issuer's SQLite ledger (default: <db>.issuer)");
  netsim->add_option("--faults", sim_faults, "Fault plan, e.g. drop_response=5,late=2,latency=1-20,seed=7 (docs/network-sim.md)");
  netsim->footer(R"(Example:
  paymentctl network-sim --listen 127.0.0.1:8583 &
  paymentctl --network tcp://127.0.0.1:8583 --merchant acme authorize --card 4242424242424242 --expiry 12/30 --amount 5.00 --currency USD --key o-1)");
  std::string file_path, results_path, file_format, gen_start = "2026-11-28T00:00:00Z";
  bool derive_keys = false;
  size_t batch_records = 1000;
  int64_t gen_records = 10000;
  uint64_t gen_seed = 1;
  int gen_merchants = 5, gen_cards = 1000, gen_days = 1;
  auto* replay = app.add_subcommand("replay", "Replay a transaction file through the engine (idempotent, resumable)");
  replay->add_option("file", file_path, "JSON Lines (.jsonl) or length-delimited binary (.pb) records")->required();
  replay->add_option("--results", results_path, "Write one JSON line per record (outcome, payment id, response code, error)");
  replay->add_option("--format", file_format, "jsonl or binary (default: by extension)");
  replay->add_flag("--derive-keys", derive_keys, "Records without an idempotency key get <file digest>:<record number>");
  replay->add_option("--batch", batch_records, "Records per engine batch (one durable commit)")->check(CLI::Range(1, 100000));
  replay->footer(R"(The records' event times are the engine clock. Replaying the same file again moves nothing.
Example: paymentctl generate --records 100000 --out day.pb && paymentctl init && paymentctl replay day.pb --results results.jsonl)");
  auto* generate = app.add_subcommand("generate", "Write a realistic transaction file (a simulated day or more)");
  generate->add_option("--records", gen_records, "How many records")->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  generate->add_option("--seed", gen_seed, "Random seed (same seed, same file)");
  generate->add_option("--out", file_path, "Output file (.jsonl or .pb)")->required();
  generate->add_option("--format", file_format, "jsonl or binary (default: by extension)");
  generate->add_option("--merchants", gen_merchants, "Merchants")->check(CLI::Range(1, 10000));
  auto* gen_cards_opt = generate->add_option("--cards", gen_cards, "Distinct cards (default: one per 10 records, at least 1000)")->check(CLI::Range(1, 100000000));
  generate->add_option("--start", gen_start, "Start of the simulated period (RFC 3339)");
  generate->add_option("--days", gen_days, "Length of the simulated period in days")->check(CLI::Range(1, 365));
  generate->footer("Example: paymentctl generate --records 1000000 --seed 7 --out million.pb");
  int64_t demo_records = 20000;
  auto* demo = app.add_subcommand("demo", "Generate a day, replay it on a fresh database, settle, verify, report");
  demo->add_option("--records", demo_records, "Records in the generated day")->check(CLI::Range(int64_t{100}, int64_t{10000000}));
  demo->footer("Example: paymentctl demo --records 50000   (uses a fresh database in a temporary directory unless --db is given)");
  std::string serve_listen = "127.0.0.1:8080", tls_cert, tls_key;
  server::ServerOptions serve_opts;
  auto* serve = app.add_subcommand("serve", "Run paymentd: the engine over HTTP/1.1 (JSON or protobuf), until SIGINT/SIGTERM");
  serve->add_option("--listen", serve_listen, "HOST:PORT (port 0: a free port, printed)");
  serve->add_option("--tls-cert", tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)");
  serve->add_option("--tls-key", tls_key, "PEM private key");
  serve->add_option("--threads", serve_opts.threads, "I/O threads")->check(CLI::Range(1, 64));
  serve->add_option("--rate", serve_opts.rate_per_s, "Requests per second per API key (0: unlimited)");
  serve->add_option("--burst", serve_opts.burst, "Burst per API key");
  serve->add_option("--queue", serve_opts.queue_max, "Commands waiting for the writer before 503");
  serve->add_option("--batch", serve_opts.batch_max, "Commands per group commit")->check(CLI::Range(1, 100000));
  serve->add_option("--max-connections", serve_opts.connections_max, "Open connections at most");
  serve->footer(R"(Example:
  paymentctl apikey create --admin            # prints the key once
  paymentctl serve --listen 127.0.0.1:8080 &
  curl -s -H "Authorization: Bearer pk_..." localhost:8080/v1/payments?merchant=acme   (docs/api.md))");
  auto* apikey = app.add_subcommand("apikey", "API keys of paymentd");
  apikey->require_subcommand(1);
  bool apikey_admin = false;
  auto* akcreate = apikey->add_subcommand("create", "Create a key (printed once; only its hash is stored)");
  akcreate->add_flag("--admin", apikey_admin, "An admin key (creates merchants, funds); otherwise give --merchant");
  akcreate->footer("Examples: paymentctl apikey create --merchant acme ; paymentctl apikey create --admin");
  auto* settle = app.add_subcommand("settle", "Settle captured payments: network receivable -> merchants' available balance, less fees");
  settle->footer("Example: paymentctl settle --json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    bool wants_json = false;
    for (int i = 1; i < argc; ++i) wants_json = wants_json || std::string_view(argv[i]) == "--json";
    if (e.get_exit_code() == 0 || !wants_json) {
      int rc = app.exit(e);
      return rc == 0 ? 0 : 2;
    }
    ctx.json = true;
    return PrintError(ctx, MakeError(ErrorCode::kInvalidArgument, std::string("usage: ") + e.what()));
  }

  if (netsim->parsed()) return RunNetworkSim(ctx, sim_listen, sim_issuer_db, sim_faults);
  if (generate->parsed()) {
    auto format = files::FormatFor(file_path, file_format);
    if (!format) return PrintError(ctx, format.error());
    files::GenerateOptions g;
    g.records = gen_records;
    g.seed = gen_seed;
    g.merchants = gen_merchants;
    // Enough cards that open-to-buy (10,000.00 each) does not run out over the file.
    g.cards = gen_cards_opt->count() > 0 ? gen_cards : static_cast<int>(std::max<int64_t>(1000, gen_records / 10));
    g.start_time = gen_start;
    g.duration_ms = static_cast<int64_t>(gen_days) * 24 * 3600 * 1000;
    auto n = files::Generate(file_path, *format, g);
    if (!n) return PrintError(ctx, n.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("records", *n).Field("file", file_path).EndObject();
      std::cout << w.str() << "\n";
    } else {
      std::cout << "wrote " << *n << " records to " << file_path << "\n";
    }
    return 0;
  }
  if (replay->parsed()) {
    auto format = files::FormatFor(file_path, file_format);
    if (!format) return PrintError(ctx, format.error());
    ManualClock* clock = nullptr;
    if (auto r = Open(ctx, false, &clock); !r) return PrintError(ctx, r.error());
    files::ReplayOptions ro;
    ro.path = file_path;
    ro.format = *format;
    ro.results_path = results_path;
    ro.derive_keys = derive_keys;
    ro.batch_records = batch_records;
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
  if (demo->parsed()) return RunDemo(ctx, demo_records, app.get_option("--db")->count() > 0);
  ctx.wants_network = serve->parsed() || fund->parsed() || push_cmd->parsed() || p2p->parsed() ||
                      authorize->parsed() || increment->parsed() || capture->parsed() ||
                      pvoid->parsed() || refund->parsed() || settle->parsed() ||
                      presolve->parsed() || pexpire->parsed();
  if (auto r = Open(ctx, init->parsed()); !r) return PrintError(ctx, r.error());
  Engine& L = *ctx.engine;

  if (init->parsed()) {
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("db", ctx.db_path).Field("initialized", true).EndObject();
      std::cout << w.str() << "\n";
    } else {
      std::cout << "initialized " << ctx.db_path << "\n";
    }
    return 0;
  }

  if (acreate->parsed()) {
    ledger::AccountSpec spec;
    spec.id = acct_id;
    spec.currency = acct_currency;
    auto type = ledger::ParseAccountType(acct_type, "--type");
    if (!type) return PrintError(ctx, type.error());
    spec.type = *type;
    if (no_overdraft) spec.overdraft = ledger::OverdraftMode::kNone;
    if (!acct_limit.empty()) {
      auto cur = LookupCurrency(acct_currency, "--currency");
      if (!cur) return PrintError(ctx, cur.error());
      auto lim = ParseDecimalMinor(acct_limit, (*cur)->exponent, "--overdraft-limit");
      if (!lim) return PrintError(ctx, lim.error());
      spec.overdraft = ledger::OverdraftMode::kLimit;
      spec.overdraft_limit_minor = *lim;
    }
    for (const std::string& kv : meta) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return PrintError(ctx, MakeError(ErrorCode::kInvalidArgument,
                                         "--meta: '" + kv + "' is not key=value"));
      }
      spec.metadata.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    std::string key = idem_key.empty() ? "account/" + spec.id : idem_key;
    auto r = L.Submit(MakeCommand(ctx, key, CreateAccountRequest{spec}));
    if (!r || r->declined || ctx.json) return EmitOutcome(ctx, r);
    if (r->replayed) std::cout << "(already existed with these attributes)\n";
    return EmitAccount(ctx, L.GetAccount(spec.id));
  }
  if (ashow->parsed()) {
    if (!as_of.empty()) {
      auto t = ParseRfc3339Ms(as_of, "--as-of");
      if (!t) return PrintError(ctx, t.error());
      return EmitAccount(ctx, L.GetAccountAsOf(acct_id, {ledger::AsOf::By::kTime, *t}));
    }
    if (as_of_entry >= 0) {
      return EmitAccount(ctx, L.GetAccountAsOf(acct_id, {ledger::AsOf::By::kSeq, as_of_entry}));
    }
    return EmitAccount(ctx, L.GetAccount(acct_id));
  }
  if (alist->parsed()) {
    auto r = L.ListAccounts(after, limit);
    if (!r) return PrintError(ctx, r.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Key("accounts").BeginArray();
      for (const Account& a : *r) w.Raw(AccountJson(a));
      w.EndArray().EndObject();
      std::cout << w.str() << "\n";
    } else {
      for (const Account& a : *r) {
        std::cout << a.id << "  " << ledger::AccountTypeName(a.type) << "  "
                  << Decimal(a.balance_minor(), a.currency) << " " << a.currency->code
                  << "  (available " << Decimal(a.available_minor(), a.currency) << ")\n";
      }
    }
    return 0;
  }
  if (ahist->parsed()) {
    auto acct = L.GetAccount(acct_id);
    if (!acct) return PrintError(ctx, acct.error());
    auto r = L.History(acct_id, limit);
    if (!r) return PrintError(ctx, r.error());
    const Currency* c = acct->currency;
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("account", acct_id).Field("currency", c->code).Key("lines").BeginArray();
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
    } else {
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
    }
    return 0;
  }
  if (transfer->parsed()) {
    auto minor = AmountFor(ctx, debit, amount, "--debit", "--amount");
    if (!minor) return PrintError(ctx, minor.error());
    ledger::EntrySpec spec;
    spec.ref = ref;
    spec.description = description;
    spec.pending = pending;
    if (!expires_in.empty()) {
      auto d = ParseDurationMs(expires_in, "--expires-in");
      if (!d) return PrintError(ctx, d.error());
      spec.expires_in_ms = *d;
    }
    spec.postings = {{debit, ledger::Side::kDebit, *minor}, {credit, ledger::Side::kCredit, *minor}};
    std::string key = idem_key.empty() ? ref : idem_key;
    if (key.empty()) {
      return PrintError(ctx, MakeError(ErrorCode::kInvalidIdempotencyKey,
                                       "--key: give an idempotency key (--key) or a reference (--ref)"));
    }
    return EmitOutcome(ctx, L.Submit(MakeCommand(ctx, key, TransferRequest{spec})));
  }
  if (ecreate->parsed()) {
    auto text = ReadInput(file);
    if (!text) return PrintError(ctx, text.error());
    auto spec = EntrySpecFromJson(ctx, *text);
    if (!spec) return PrintError(ctx, spec.error());
    std::string key = idem_key.empty() ? spec->ref : idem_key;
    if (key.empty()) {
      return PrintError(ctx, MakeError(ErrorCode::kInvalidIdempotencyKey,
                                       "ref: the entry needs a ref (or give --key)"));
    }
    return EmitOutcome(ctx, L.Submit(MakeCommand(ctx, key, TransferRequest{*spec})));
  }
  if (eshow->parsed()) return EmitEntry(ctx, L.GetEntry(entry_id));
  if (epost->parsed()) {
    std::optional<int64_t> part;
    if (!amount.empty()) {
      auto held = L.GetEntry(entry_id);
      if (!held) return PrintError(ctx, held.error());
      if (held->legs.empty()) return PrintError(ctx, MakeError(ErrorCode::kNotPending, "entry: has no postings"));
      const Currency* c = FindCurrency(held->legs[0].currency);
      auto m = ParseDecimalMinor(amount, c ? c->exponent : 2, "--amount");
      if (!m) return PrintError(ctx, m.error());
      part = *m;
    }
    std::string key = !idem_key.empty() ? idem_key
                      : !ref.empty()    ? ref
                                        : "post/" + std::to_string(entry_id) + "/" +
                                           (part ? std::to_string(*part) : std::string("full"));
    return EmitOutcome(ctx, L.Submit(MakeCommand(ctx, key, PostRequest{entry_id, part})));
  }
  if (evoid->parsed()) {
    std::string key = !idem_key.empty() ? idem_key
                      : !ref.empty()    ? ref
                                        : "void/" + std::to_string(entry_id);
    return EmitOutcome(ctx, L.Submit(MakeCommand(ctx, key, VoidRequest{entry_id})));
  }
  if (erev->parsed()) {
    return EmitOutcome(ctx, L.Submit(MakeCommand(ctx, ref, ReverseRequest{entry_id, description, ref})));
  }
  if (verify->parsed()) {
    auto r = L.Verify();
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
  if (purge->parsed()) {
    auto r = L.PurgeIdempotencyKeys();
    if (!r) return PrintError(ctx, r.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("purged", static_cast<int64_t>(*r)).EndObject();
      std::cout << w.str() << "\n";
    } else {
      std::cout << "purged " << *r << " idempotency keys\n";
    }
    return 0;
  }
  if (vstatus->parsed()) {
    auto r = L.VelocityStatus(vrule, vkey);
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
    } else {
      for (const auto& s : *r) {
        std::cout << s.rule << "  " << s.key << "  " << s.algorithm << " " << s.window_ms / 1000
                  << "s  used " << s.used << " of " << s.limit << ", remaining " << s.remaining;
        if (s.retry_after_ms > 0) std::cout << ", retry after " << s.retry_after_ms << " ms";
        if (s.shadow) std::cout << " (shadow)";
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (expire->parsed()) {
    // One bounded transaction at a time, until nothing is due.
    size_t total = 0;
    for (;;) {
      auto n = L.ExpireHolds(limits::kExpirySweepPerTransactionMax);
      if (!n) return PrintError(ctx, n.error());
      total += *n;
      if (*n < limits::kExpirySweepPerTransactionMax) break;
      if (!ctx.json) std::cerr << "released " << total << " holds so far\n";
    }
    Result<size_t> r = total;
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("expired", static_cast<int64_t>(*r)).EndObject();
      std::cout << w.str() << "\n";
    } else {
      std::cout << "released " << *r << " expired holds\n";
    }
    return 0;
  }

  if (akcreate->parsed()) {
    auto keys = server::ApiKeys::Open(ctx.db_path, *ctx.clock);  // the channel's own connection
    if (!keys) return PrintError(ctx, keys.error());
    auto key = (*keys)->Create(apikey_admin ? "" : ctx.merchant, apikey_admin);
    if (!key) return PrintError(ctx, key.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("api_key", *key).Field("merchant", ctx.merchant).Field("admin", apikey_admin).EndObject();
      std::cout << w.str() << "\n";
    } else {
      std::cout << *key << "\n(shown once; only its hash is stored)\n";
    }
    return 0;
  }
  if (serve->parsed()) {
    auto where = network::ParseHostPort(serve_listen, "--listen");
    if (!where) return PrintError(ctx, where.error());
    serve_opts.host = where->first;
    serve_opts.port = where->second;
    serve_opts.tls_cert_path = tls_cert;
    serve_opts.tls_key_path = tls_key;
    auto keys = server::ApiKeys::Open(ctx.db_path, *ctx.clock);  // the channel's own connection
    if (!keys) return PrintError(ctx, keys.error());
    auto srv = server::Server::Start(L, **keys, serve_opts);
    if (!srv) return PrintError(ctx, srv.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("listening", where->first + ":" + std::to_string((*srv)->port()));
      w.Field("tls", (*srv)->tls()).EndObject();
      std::cout << w.str() << std::endl;
    } else {
      std::cout << "paymentd listening on " << ((*srv)->tls() ? "https://" : "http://") << where->first
                << ":" << (*srv)->port() << " (db " << ctx.db_path << "); stop with Ctrl-C" << std::endl;
    }
    (*srv)->WaitForSignal();
    std::cerr << "paymentd: stopped; every accepted request was committed and answered\n";
    return 0;
  }
  if (mcreate->parsed()) {
    CreateMerchantRequest req{m_id, m_currency, m_fee_bps, 0};
    if (!m_fee_fixed.empty()) {
      auto cur = LookupCurrency(m_currency, "--currency");
      if (!cur) return PrintError(ctx, cur.error());
      auto fee = ParseDecimalMinor(m_fee_fixed, (*cur)->exponent, "--fee-fixed");
      if (!fee) return PrintError(ctx, fee.error());
      req.fee_fixed_minor = *fee;
    }
    auto r = L.Submit(MakeCommand(ctx, idem_key.empty() ? "merchant/" + m_id : idem_key, req));
    if (!r || r->declined || ctx.json) return EmitOutcome(ctx, r);
    std::cout << "merchant " << m_id << " (" << m_currency << "): accounts m/" << m_id
              << "/pending and m/" << m_id << "/available\n";
    return 0;
  }
  if (authorize->parsed()) {
    auto cur = LookupCurrency(pay_currency, "--currency");
    if (!cur) return PrintError(ctx, cur.error());
    auto minor = ParseDecimalMinor(pay_amount, (*cur)->exponent, "--amount");
    if (!minor) return PrintError(ctx, minor.error());
    AuthorizeRequest req{{card_pan, card_expiry, card_cvv}, *minor, pay_currency};
    return EmitPayment(ctx, L.Submit(MakeCommand(ctx, idem_key, std::move(req))));
  }
  if (fund->parsed() || push_cmd->parsed() || p2p->parsed()) {
    auto cur = LookupCurrency(pay_currency, "--currency");
    if (!cur) return PrintError(ctx, cur.error());
    auto minor = ParseDecimalMinor(pay_amount, (*cur)->exponent, "--amount");
    if (!minor) return PrintError(ctx, minor.error());
    if (fund->parsed()) {
      FundRequest req{*minor, pay_currency, std::nullopt};
      if (!card_pan.empty()) req.card = CardInput{card_pan, card_expiry, card_cvv};
      Context& c = ctx;
      c.merchant = fund_merchant;
      auto r = L.Submit(MakeCommand(c, idem_key, std::move(req)));
      if (!card_pan.empty()) return EmitPayment(ctx, r);
      if (!r || r->declined || ctx.json) return EmitOutcome(ctx, r);
      if (r->replayed) std::cout << "(idempotent replay: this key was answered before; nothing moved)\n";
      const Currency* c2 = *cur;
      std::cout << "funded " << fund_merchant << " with " << Decimal(JsonInt(r->body, "funded_minor"), c2)
                << " " << pay_currency << "; disbursement balance "
                << Decimal(JsonInt(r->body, "disbursement_balance_minor"), c2) << " " << pay_currency << "\n";
      return 0;
    }
    if (push_cmd->parsed()) {
      PushRequest req{{card_pan, "", ""}, *minor, pay_currency, purpose,
                      sender_name.empty() ? ctx.merchant : sender_name, sender_ref, recipient_name};
      return EmitPayment(ctx, L.Submit(MakeCommand(ctx, idem_key, std::move(req))));
    }
    P2pRequest req{{from_card, from_expiry, card_cvv}, {to_card, "", ""}, *minor, pay_currency,
                   sender_name, recipient_name};
    return EmitPayment(ctx, L.Submit(MakeCommand(ctx, idem_key, std::move(req))));
  }
  if (increment->parsed() || capture->parsed() || refund->parsed()) {
    auto minor = PaymentAmount(ctx, payment_id, pay_amount, "--amount");
    if (!minor) return PrintError(ctx, minor.error());
    Request req;
    if (increment->parsed()) {
      req = IncrementRequest{payment_id, minor->value_or(0)};
    } else if (capture->parsed()) {
      req = CaptureRequest{payment_id, *minor, final_capture};
    } else {
      req = RefundRequest{payment_id, *minor};
    }
    return EmitPayment(ctx, L.Submit(MakeCommand(ctx, idem_key, std::move(req))));
  }
  if (pvoid->parsed()) {
    return EmitPayment(ctx, L.Submit(MakeCommand(ctx, idem_key, VoidPaymentRequest{payment_id})));
  }
  if (pshow->parsed()) {
    auto r = L.PaymentJson(payment_id);
    if (!r) return PrintError(ctx, r.error());
    if (ctx.json) {
      std::cout << *r << "\n";
    } else {
      PrintPaymentText(*r);
    }
    return 0;
  }
  if (plist->parsed()) {
    auto r = L.ListPaymentJson(ctx.merchant, after, limit);
    if (!r) return PrintError(ctx, r.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Key("payments").BeginArray();
      for (const std::string& p : *r) w.Raw(p);
      w.EndArray().EndObject();
      std::cout << w.str() << "\n";
    } else {
      for (const std::string& p : *r) {
        const std::string cur = JsonText(p, "currency");
        std::cout << JsonText(p, "payment_id") << "  " << JsonText(p, "merchant") << "  "
                  << Decimal(JsonInt(p, "amount_minor"), FindCurrency(cur)) << " " << cur << "  "
                  << JsonText(p, "status") << "\n";
      }
    }
    return 0;
  }
  if (presolve->parsed() || pexpire->parsed()) {
    size_t expired = 0;
    if (pexpire->parsed()) {
      auto n = L.ExpirePayments(SIZE_MAX);
      if (!n) return PrintError(ctx, n.error());
      expired = *n;
    }
    auto left = L.ResolvePending();
    if (!left) return PrintError(ctx, left.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("expired", static_cast<int64_t>(expired));
      w.Field("advices_queued", *left > 0).EndObject();
      std::cout << w.str() << "\n";
    } else {
      if (pexpire->parsed()) std::cout << "expired " << expired << " authorizations\n";
      std::cout << (*left > 0 ? "some network advices are still unacknowledged (queued)\n"
                              : "no network advice is queued\n");
    }
    return 0;
  }
  if (settle->parsed()) {
    auto r = L.Settle();
    if (!r) return PrintError(ctx, r.error());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject().Field("payments", static_cast<int64_t>(r->payments)).Key("totals").BeginArray();
      for (const auto& [cur, net, fee] : r->totals) {
        w.BeginObject().Field("currency", cur).Field("net_minor", net).Field("fee_minor", fee).EndObject();
      }
      w.EndArray().EndObject();
      std::cout << w.str() << "\n";
    } else {
      std::cout << "settled " << r->payments << " payments\n";
      for (const auto& [cur, net, fee] : r->totals) {
        const Currency* c = FindCurrency(cur);
        std::cout << "  " << cur << "  net " << Decimal(net, c) << "  fees " << Decimal(fee, c)
                  << "  to merchants " << Decimal(net - fee, c) << "\n";
      }
    }
    return 0;
  }
  return 2;
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
