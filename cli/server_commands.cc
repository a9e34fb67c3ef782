// The long-running processes and their keys: serve, network-sim, apikey.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/network/faults.h"
#include "adapters/network/tcp_network.h"
#include "adapters/requests/requests.h"
#include "adapters/server/api_keys.h"
#include "adapters/server/routes.h"
#include "adapters/server/server.h"
#include "cli/commands.h"
#include "cli/print.h"
#include "core/json_writer.h"
#include "core/time_format.h"

namespace pay::cli {
namespace {

// ---- serve ----------------------------------------------------------------------------------

struct ServeOptions {
  std::string listen = "127.0.0.1:8080", tls_cert, tls_key, access_log = "-";
  server::ServerOptions server;
};

// --access-log: "-" standard error, "off" none, else a file appended to (line-buffered).
Result<void> OpenAccessLog(const std::string& where, server::ServerOptions& o) {
  if (where == "off") return {};
  std::FILE* f = stderr;
  if (where != "-") {
    f = std::fopen(where.c_str(), "a");
    if (f == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "--access-log: cannot open '" + where + "' to append");
    }
    std::setvbuf(f, nullptr, _IOLBF, 1 << 16);
  }
  auto mu = std::make_shared<std::mutex>();
  o.access_log = [f, mu](std::string_view line) {
    std::lock_guard lock(*mu);
    std::fwrite(line.data(), 1, line.size(), f);
    std::fputc('\n', f);
  };
  return {};
}

int RunServe(Context& ctx, ServeOptions& o) {
  auto where = network::ParseHostPort(o.listen, "--listen");
  if (!where) return PrintError(ctx, where.error());
  o.server.host = where->first;
  o.server.port = where->second;
  o.server.tls_cert_path = o.tls_cert;
  o.server.tls_key_path = o.tls_key;
  o.server.clock = ctx.clock.get();  // the gauges of the books on /metrics read time from it
  if (auto log = OpenAccessLog(o.access_log, o.server); !log) return PrintError(ctx, log.error());
  auto keys = server::ApiKeys::Open(ctx.db_path, *ctx.clock);  // the channel's own connection
  if (!keys) return PrintError(ctx, keys.error());
  auto hooks = server::Webhooks::Open(ctx.db_path, *ctx.clock);  // its own connection too
  if (!hooks) return PrintError(ctx, hooks.error());
  o.server.webhooks = hooks->get();
  auto srv = server::Server::Start(*ctx.engine, **keys, o.server);
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

void AddServe(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ServeOptions>();
  auto* sub = app.add_subcommand("serve", "Run paymentd: the engine over HTTP/1.1 (JSON or protobuf), until SIGINT/SIGTERM");
  sub->add_option("--listen", o->listen, "HOST:PORT (port 0: a free port, printed)");
  sub->add_option("--tls-cert", o->tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)");
  sub->add_option("--tls-key", o->tls_key, "PEM private key");
  sub->add_option("--threads", o->server.threads, "I/O threads")->check(CLI::Range(1, 64));
  sub->add_option("--rate", o->server.rate_per_s, "Requests per second per API key (0: unlimited)");
  sub->add_option("--burst", o->server.burst, "Burst per API key");
  sub->add_option("--queue", o->server.queue_max, "Commands waiting for the writer before 503");
  sub->add_option("--batch", o->server.batch_max, "Commands per group commit")->check(CLI::Range(1, 100000));
  sub->add_option("--max-connections", o->server.connections_max, "Open connections at most");
  sub->add_option("--max-connections-per-client", o->server.connections_per_client_max,
                  "Open connections per client address")->check(CLI::Range(1, 1'000'000));
  sub->add_option("--access-log", o->access_log, "One JSON line per request (time, request_id, ip, method, route, status, duration_ms, bytes; never card data): - (stderr), off, or a file to append to");
  sub->add_option("--auth-failure-rate", o->server.auth_failures_per_s,
                  "Failed authentications per second per client address before 429 (0: unlimited)");
  Help(sub,
       {"paymentctl apikey create --admin            # prints the key once",
        "paymentctl serve --listen 127.0.0.1:8080 &",
        R"(curl -s -H "Authorization: Bearer sk_test_..." localhost:8080/v1/payments?merchant=acme   (docs/api.md))"},
       {"--db --json --config --idempotency-retention --durability", kNetworkOptions});
  OnRun(sub, ctx, Needs::kServer, [o](Context& c) { return RunServe(c, *o); });
}

// ---- network-sim ----------------------------------------------------------------------------

struct NetworkSimOptions {
  std::string listen = "127.0.0.1:8583", issuer_db, faults;
};

// The issuer simulator behind a TCP listener, until a signal.
int RunNetworkSim(Context& ctx, const NetworkSimOptions& o) {
  auto where = network::ParseHostPort(o.listen, "--listen");
  if (!where) return PrintError(ctx, where.error());
  network::FaultConfig faults;
  if (!o.faults.empty()) {
    auto f = network::ParseFaultConfig(o.faults);
    if (!f) return PrintError(ctx, Refield(f.error(), "--faults"));
    faults = *f;
  }
  if (auto r = OpenClock(ctx); !r) return PrintError(ctx, r.error());
  network::IssuerOptions io;
  io.db_path = o.issuer_db.empty() ? ctx.issuer_db : o.issuer_db;
  if (io.db_path.empty()) io.db_path = ctx.db_path + ".issuer";
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

void AddNetworkSim(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<NetworkSimOptions>();
  auto* sub = app.add_subcommand("network-sim", "Run the card network simulator (issuer included) on TCP until SIGINT/SIGTERM");
  sub->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: a free port, printed)");
  sub->add_option("--issuer-db", o->issuer_db, "The issuer's SQLite ledger (default: <db>.issuer)");
  sub->add_option("--faults", o->faults, "Fault plan, e.g. drop_response=5,late=2,latency=1-20,seed=7 (docs/network-sim.md)");
  Help(sub,
       {"paymentctl network-sim --listen 127.0.0.1:8583 &",
        "paymentctl --network tcp://127.0.0.1:8583 --merchant acme authorize --card 4242424242424242 --expiry 12/30 --amount 5.00 --currency USD --key o-1"},
       {"--db --json --durability"});
  OnRun(sub, ctx, Needs::kNothing, [o](Context& c) { return RunNetworkSim(c, *o); });
}

// ---- apikey ---------------------------------------------------------------------------------

struct ApiKeyOptions {
  bool admin = false;
  std::string mode = "test", id, expires_in = "24h", after;
  size_t limit = 100;
};

int RunApiKeyCreate(Context& ctx, const ApiKeyOptions& o) {
  const bool admin = o.admin;
  auto keys = server::ApiKeys::Open(ctx.db_path, *ctx.clock);  // the channel's own connection
  if (!keys) return PrintError(ctx, keys.error());
  (*keys)->SetMerchantLookup([&ctx](std::string_view id) -> Result<bool> {
    auto m = ctx.engine->GetMerchant(id);
    if (!m && m.error().code == ErrorCode::kUnknownMerchant) return false;
    if (!m) return m.error();
    return true;
  });
  auto key = (*keys)->Create(admin ? "" : ctx.merchant, admin, o.mode);
  if (!key) return PrintError(ctx, key.error());
  if (ctx.json) {
    server::ApiKey like;
    like.merchant = admin ? "" : ctx.merchant;
    like.admin = admin;
    like.mode = o.mode;
    std::cout << server::NewKeyJson(*key, like) << "\n";
  } else {
    std::cout << *key << "\n(shown once; only its hash is stored)\n";
  }
  return 0;
}

int RunApiKeyList(Context& ctx, const ApiKeyOptions& o) {
  auto keys = server::ApiKeys::Open(ctx.db_path, *ctx.clock);
  if (!keys) return PrintError(ctx, keys.error());
  auto list = (*keys)->List(ctx.merchant, o.after, o.limit + 1);
  if (!list) return PrintError(ctx, list.error());
  const bool more = list->size() > o.limit;
  if (more) list->pop_back();
  if (ctx.json) {
    std::vector<std::string> items;
    for (const auto& k : *list) items.push_back(server::ApiKeyJson(k));
    std::cout << requests::ListJson(items, more, list->empty() ? "" : list->back().id) << "\n";
    return 0;
  }
  for (const auto& k : *list) {
    std::cout << k.prefix() << k.id << "_...  " << (k.admin ? "admin" : "merchant " + k.merchant)
              << "  created " << FormatRfc3339Ms(k.created_at_ms)
              << (k.expires_at_ms ? "  expires " + FormatRfc3339Ms(k.expires_at_ms) : "") << "\n";
  }
  if (list->empty()) std::cout << "no API keys\n";
  if (more) std::cout << "(more: --after " << list->back().id << ")\n";
  return 0;
}

int RunApiKeyRevoke(Context& ctx, const ApiKeyOptions& o) {
  auto keys = server::ApiKeys::Open(ctx.db_path, *ctx.clock);
  if (!keys) return PrintError(ctx, keys.error());
  if (auto r = (*keys)->Revoke(o.id); !r) return PrintError(ctx, r.error());
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject().Field("id", o.id).Field("revoked", true).EndObject();
    std::cout << w.str() << "\n";
  } else {
    std::cout << "revoked " << o.id << " (every node refuses it within a second)\n";
  }
  return 0;
}

int RunApiKeyRoll(Context& ctx, const ApiKeyOptions& o) {
  auto grace = o.expires_in == "0" ? Result<int64_t>(0) : ParseDurationMs(o.expires_in, "--expires-in");
  if (!grace) return PrintError(ctx, grace.error());
  auto keys = server::ApiKeys::Open(ctx.db_path, *ctx.clock);
  if (!keys) return PrintError(ctx, keys.error());
  auto old = (*keys)->Find(o.id);
  if (!old) return PrintError(ctx, old.error());
  auto rolled = (*keys)->Roll(o.id, *grace);
  if (!rolled) return PrintError(ctx, rolled.error());
  if (ctx.json) {
    std::cout << server::NewKeyJson(rolled->key, *old, o.id, rolled->old_expires_at_ms) << "\n";
  } else {
    std::cout << rolled->key << "\n(shown once; " << o.id << " works until "
              << FormatRfc3339Ms(rolled->old_expires_at_ms) << ")\n";
  }
  return 0;
}

void AddRoutes(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("routes", "List paymentd's HTTP routes (METHOD PATTERN; docs/api.md, docs/openapi.yaml)");
  Help(sub, {"paymentctl routes"}, {});
  OnRun(sub, ctx, Needs::kNothing, [](Context&) {
    for (const std::string& line : server::RouteTable()) std::cout << line << "\n";
    return 0;
  });
}

void AddApiKey(CLI::App& app, Context& ctx) {
  auto* apikey = app.add_subcommand("apikey", "API keys of paymentd");
  apikey->require_subcommand(1);
  auto o = std::make_shared<ApiKeyOptions>();
  auto* sub = apikey->add_subcommand("create", "Create a key (printed once; only its hash is stored)");
  sub->add_flag("--admin", o->admin, "An admin key (creates merchants, funds); otherwise give --merchant");
  sub->add_option("--mode", o->mode, "test (sk_test_...) or live (sk_live_...)")->check(CLI::IsMember({"test", "live"}));
  Help(sub, {"paymentctl apikey create --merchant acme", "paymentctl apikey create --admin --mode live"},
       {"--db --json --merchant --durability"});
  OnRun(sub, ctx, Needs::kEngine, [o](Context& c) { return RunApiKeyCreate(c, *o); });

  auto* list = apikey->add_subcommand("list", "List keys (never their secrets); --merchant: of one merchant");
  list->add_option("--after", o->after, "Start after this key id (paging)");
  list->add_option("--limit", o->limit, "At most this many")->check(CLI::Range(1, 10'000));
  Help(list, {"paymentctl apikey list", "paymentctl --merchant acme apikey list --json"}, {"--db --json --merchant"});
  OnRun(list, ctx, Needs::kEngine, [o](Context& c) { return RunApiKeyList(c, *o); });

  auto* revoke = apikey->add_subcommand("revoke", "Revoke a key: it stops working on every node (within a second)");
  revoke->add_option("id", o->id, "The key's id (the 12 hex digits after sk_test_ / sk_live_)")->required();
  Help(revoke, {"paymentctl apikey revoke 0123456789ab"}, {"--db --json"});
  OnRun(revoke, ctx, Needs::kEngine, [o](Context& c) { return RunApiKeyRevoke(c, *o); });

  auto* roll = apikey->add_subcommand("roll", "A new secret for a key; the old one works until --expires-in has passed");
  roll->add_option("id", o->id, "The key's id")->required();
  roll->add_option("--expires-in", o->expires_in, "How long the old secret keeps working (0: not at all)");
  Help(roll, {"paymentctl apikey roll 0123456789ab", "paymentctl apikey roll 0123456789ab --expires-in 0"},
       {"--db --json"});
  OnRun(roll, ctx, Needs::kEngine, [o](Context& c) { return RunApiKeyRoll(c, *o); });
}

}  // namespace

void AddServerCommands(CLI::App& app, Context& ctx) {
  AddServe(app, ctx);
  AddNetworkSim(app, ctx);
  AddApiKey(app, ctx);
  AddRoutes(app, ctx);
}

}  // namespace pay::cli
