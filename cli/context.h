// paymentctl's context: the global options and what they open (the engine, the card network
// and the issuer simulator behind it). Every command opens the engine here and nowhere else.
// Single-threaded: one Context per process, owned by main.

#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapters/network/issuer.h"
#include "pay/card_network.h"
#include "pay/clock.h"
#include "pay/engine.h"

namespace pay::cli {

// What main opens before the chosen subcommand runs. Commands that open something else (the
// replay's manual clock, the network simulator alone) or nothing at all say kNothing and open
// for themselves.
enum class Needs {
  kNothing,
  kEngine,            // an existing database
  kEngineAndNetwork,  // an existing database and the card network
  kServer,            // as kEngineAndNetwork, with advices delivered in the background (serve)
  kNewEngine,         // the database, created when missing
};

// Everything a command needs, opened on demand.
struct Context {
  // Global options (main binds them; they may stand before or after the subcommand).
  std::string db_path;
  bool db_given = false;  // --db was on the command line (not only the environment or default)
  bool json = false;
  std::string durability = "full";
  std::string merchant;
  std::string config_path;
  std::string retention = "24h";
  // The card network: "sim" (in-process, issuer simulator in <db>.issuer) or tcp://HOST:PORT.
  std::string network = "sim";
  std::string network_faults;
  std::string network_deadline = "2s";
  std::string card_key_file;
  std::string authorization_validity = "7d";
  std::string exchange_grace = "60s";
  std::string issuer_db;  // the issuer simulator's SQLite file; default <db>.issuer
  std::string replica_db;  // a streaming replica of --db for reads (PostgreSQL)
  std::vector<std::string> shards;  // --shard K=DB, as given
  std::vector<std::string> partition_dbs;  // by partition (TakeShards)
  int64_t max_db_pages = 0;

  // The subcommand the command line chose: set while parsing (see OnRun in commands.h), run by
  // main once parsing is done.
  Needs needs = Needs::kNothing;
  std::function<int(Context&)> run;

  // Opened by Open (or by a command that opens for itself).
  bool wants_network = false;
  bool background_advices = false;
  std::unique_ptr<Clock> clock;
  std::unique_ptr<network::Issuer> issuer;
  std::unique_ptr<CardNetwork> card_network;
  std::vector<std::unique_ptr<CardNetwork>> partition_networks;  // tcp:// with --shard: one each
  std::unique_ptr<Engine> engine;
};

// Reads --shard K=DB options into ctx.partition_dbs (every K from 0 once) and makes partition
// 0's database ctx.db_path (the API keys, and the default issuer and card key files, are kept
// beside it). An invalid_argument error naming --shard otherwise, or when --db or --replica-db
// is given as well.
Result<void> TakeShards(Context& ctx);
// Sets ctx.clock: a ManualClock at PAYMENTCTL_NOW (RFC 3339) when that is set, else the system
// clock.
Result<void> OpenClock(Context& ctx);

// Opens the engine (and, with ctx.wants_network, the card network). With `replay_clock` the
// engine runs on a ManualClock the replay sets to the records' event times, with the network,
// and with no grace for exchanges left open (a replay is the only writer); *replay_clock points
// at that clock, owned by ctx.
Result<void> Open(Context& ctx, bool create, ManualClock** replay_clock = nullptr);

// The merchant a command names: `positional` (the older form, e.g. `fund acme`) or --merchant
// (ctx.merchant). Both may be given when they agree; differing ones, or neither, are an
// invalid_argument error naming the field.
Result<std::string> NamedMerchant(const Context& ctx, const std::string& positional);

// A command of the CLI channel in the merchant scope of --merchant.
Command MakeCommand(const Context& ctx, std::string key, Request request);

}  // namespace pay::cli
