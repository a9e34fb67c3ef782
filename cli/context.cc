#include "cli/context.h"

#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string_view>

#include "adapters/network/faults.h"
#include "adapters/network/simulated_network.h"
#include "adapters/network/tcp_network.h"
#include "core/crypto.h"
#include "core/store.h"
#include "core/time_format.h"

namespace pay::cli {
namespace {

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

// The issuer simulator's file: --issuer-db, else <db>.issuer beside a SQLite database.
Result<std::string> IssuerDb(const Context& ctx) {
  if (!ctx.issuer_db.empty()) return ctx.issuer_db;
  if (store::IsPostgresUrl(ctx.db_path)) {
    return MakeError(ErrorCode::kInvalidConfig,
                     "--issuer-db: required with --network sim when --db is a PostgreSQL database");
  }
  return ctx.db_path + ".issuer";
}

// The card fingerprint key: --card-key-file, else PAYMENTCTL_CARD_KEY_FILE, else <db>.card-key,
// created with 32 random bytes (mode 0600) the first time a card is seen.
Result<std::string> CardKey(const Context& ctx) {
  std::string path = ctx.card_key_file;
  if (path.empty()) {
    if (const char* env = std::getenv("PAYMENTCTL_CARD_KEY_FILE"); env != nullptr && *env != '\0') path = env;
  }
  const bool default_path = path.empty();
  if (default_path && store::IsPostgresUrl(ctx.db_path)) {
    return MakeError(ErrorCode::kInvalidConfig,
                     "--card-key-file: required when --db is a PostgreSQL database (every node "
                     "must use the same key)");
  }
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
    PAY_ASSIGN_OR_RETURN(io.db_path, IssuerDb(ctx));
    io.durable = ctx.durability != "normal";
    io.clock = ctx.clock.get();
    PAY_ASSIGN_OR_RETURN(ctx.issuer, network::Issuer::Open(io));
    ctx.card_network = std::make_unique<network::SimulatedCardNetwork>(*ctx.issuer, faults, deadline_ms);
  } else if (ctx.partition_dbs.size() > 1) {  // a connection per partition: they exchange at once
    for (size_t k = 0; k < ctx.partition_dbs.size(); ++k) {
      PAY_ASSIGN_OR_RETURN(auto net, ConnectTcpNetwork(ctx.network, deadline_ms));
      o.partition_card_networks.push_back(net.get());
      ctx.partition_networks.push_back(std::move(net));
    }
  } else {
    PAY_ASSIGN_OR_RETURN(ctx.card_network, ConnectTcpNetwork(ctx.network, deadline_ms));
  }
  o.card_network = ctx.card_network.get();
  PAY_ASSIGN_OR_RETURN(o.card_fingerprint_key, CardKey(ctx));
  return {};
}

}  // namespace

// The system clock moved by a fixed offset: PAYMENTCTL_CLOCK_OFFSET (a duration, "-" before it
// for the past), to rehearse a clock that jumped.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(int64_t offset_ms) : offset_ms_(offset_ms) {}
  int64_t NowMs() const override { return system_.NowMs() + offset_ms_; }

 private:
  SystemClock system_;
  int64_t offset_ms_;
};

Result<void> OpenClock(Context& ctx) {
  if (const char* now = std::getenv("PAYMENTCTL_NOW"); now != nullptr && *now != '\0') {
    PAY_ASSIGN_OR_RETURN(int64_t ms, ParseRfc3339Ms(now, "PAYMENTCTL_NOW"));
    ctx.clock = std::make_unique<ManualClock>(ms);
  } else if (const char* off = std::getenv("PAYMENTCTL_CLOCK_OFFSET"); off != nullptr && *off != '\0') {
    const bool past = off[0] == '-';
    PAY_ASSIGN_OR_RETURN(int64_t ms, ParseDurationMs(off + (past ? 1 : 0), "PAYMENTCTL_CLOCK_OFFSET"));
    ctx.clock = std::make_unique<OffsetClock>(past ? -ms : ms);
  } else {
    ctx.clock = std::make_unique<SystemClock>();
  }
  return {};
}

Result<void> TakeShards(Context& ctx) {
  if (ctx.shards.empty()) return {};
  if (ctx.db_given || !ctx.replica_db.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--shard: the partitions replace --db, and have no --replica-db yet; give "
                     "--shard K=DB for every partition and neither of those");
  }
  std::vector<std::string> dbs(ctx.shards.size());
  for (const std::string& s : ctx.shards) {
    const size_t eq = s.find('=');
    size_t k = 0;
    const bool number = eq != std::string::npos && eq > 0 &&
                        std::from_chars(s.data(), s.data() + eq, k).ec == std::errc() &&
                        s.find_first_not_of("0123456789") == eq;
    if (!number || eq + 1 == s.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--shard: '" + s + "' is not K=DB (e.g. --shard 0=books0.db --shard 1=books1.db)");
    }
    if (k >= dbs.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--shard: partition " + std::to_string(k) + " of " + std::to_string(dbs.size()) +
                           " given; number them 0 to " + std::to_string(dbs.size() - 1));
    }
    if (!dbs[k].empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "--shard: partition " + std::to_string(k) + " given twice");
    }
    dbs[k] = s.substr(eq + 1);
  }
  ctx.partition_dbs = std::move(dbs);
  ctx.db_path = ctx.partition_dbs.front();
  return {};
}

Result<void> Open(Context& ctx, bool create, ManualClock** replay_clock) {
  if (replay_clock != nullptr) {
    auto manual = std::make_unique<ManualClock>(0);
    *replay_clock = manual.get();
    ctx.clock = std::move(manual);
    ctx.wants_network = true;
  } else {
    PAY_TRY(OpenClock(ctx));
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
  PAY_ASSIGN_OR_RETURN(o.exchange_grace_ms, ParseDurationMs(ctx.exchange_grace, "--exchange-grace"));
  o.max_db_pages = ctx.max_db_pages;
  o.replica_db_path = ctx.replica_db;
  o.partition_db_paths = ctx.partition_dbs;
  if (replay_clock != nullptr) o.exchange_grace_ms = 0;
  o.background_advices = ctx.background_advices;
  if (ctx.wants_network) {
    // The engine must exist before the issuer's file is made next to it.
    if (!create && !store::IsPostgresUrl(ctx.db_path)) {
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

Result<std::string> NamedMerchant(const Context& ctx, const std::string& positional) {
  if (!positional.empty() && !ctx.merchant.empty() && positional != ctx.merchant) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "merchant: named twice, differently: '" + positional + "' (positional) and '" +
                         ctx.merchant + "' (--merchant); give one");
  }
  if (positional.empty() && ctx.merchant.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "merchant: name the merchant (--merchant ID, or ID as the first argument)");
  }
  return positional.empty() ? ctx.merchant : positional;
}

Command MakeCommand(const Context& ctx, std::string key, Request request) {
  Command c;
  c.merchant = ctx.merchant;
  c.idempotency_key = std::move(key);
  c.channel = Channel::kCli;
  c.request = std::move(request);
  return c;
}

}  // namespace pay::cli
