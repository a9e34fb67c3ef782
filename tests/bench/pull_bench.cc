// Card pull payments per second through the engine: authorize + capture pairs with their own
// idempotency keys, in batches (Engine::SubmitBatch), durable commits (synchronous=FULL) on both
// the acquirer and the issuer simulator, over the in-process network (every exchange an ISO 8583
// message encoded and decoded) and, with --tcp, over the TCP network simulator on 127.0.0.1.
//
// With --push: disbursements (OCT) per second instead, out of a prefunded balance (each one a
// hold, the OCT exchange and the post).
//
// Usage: pull_bench [--pairs N] [--batch N] [--reps N] [--cards N] [--durability full|normal]
//                   [--tcp] [--push] [--calls] [--clients N] [--dir PATH] [--postgres CONNINFO]
//                   [--buffered]
// --postgres: the acquirer's books on that PostgreSQL server (a fresh schema per rep; the
// issuer simulator stays on SQLite); --buffered: its store behind store::BufferedStore.
// --dir PATH: where to make the working directory (a fresh subdirectory, removed at the end;
// PATH itself is never removed). Default: the system's temporary directory.
// --clients N: N threads submit batches at once (the engine runs one batch's network exchange
// while it claims another's). Prints one line per repetition and the median, in payment operations per second (an
// authorization and a capture are two operations), and the acquirer's store work per operation
// (store calls: each one statement of the SQLite store; commits: one fsync each when durable),
// counted by a store injected through EngineOptions::store.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"
#include "pay/engine.h"
#include "adapters/network/tcp_network.h"
#include "core/buffered_store.h"
#include "core/limits.h"
#include "core/pg_connection.h"
#include "core/store.h"
#include "tests/bench/cards.h"
#include "tests/bench/counting_store.h"
#include "tests/bench/scratch_dir.h"
#include "tests/support/pg_schema.h"

namespace {


using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "pull_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Options {
  int64_t pairs = 20000;
  int64_t batch = 1000;
  int reps = 3;
  int64_t cards = 1000;
  bool full = true;
  bool tcp = false;
  bool push = false;
  bool calls = false;  // print the store calls per operation by method
  int64_t clients = 1;  // threads submitting batches at once
  std::string dir;
  std::string postgres;   // a libpq connection string: the acquirer on PostgreSQL
  bool buffered = false;  // the acquirer's store behind store::BufferedStore
};

// The store calls of a whole run (setup included) per operation, by interface method.
void PrintCalls(const pay::bench::CountingStore& store, int64_t ops) {
  for (const auto& [method, n] : store.calls()) {
    std::printf("    %-22s %.2f per operation\n", method.c_str(),
                static_cast<double>(n) / static_cast<double>(ops));
  }
}

// The acquirer's store work of one kind of operation, summed over a run.
struct Work {
  pay::bench::StoreWork total;
  int64_t ops = 0;
  void Add(const pay::bench::StoreWork& w, int64_t n) {
    total.reads += w.reads;
    total.writes += w.writes;
    total.commits += w.commits;
    ops += n;
  }
  void Print(const char* what) const {
    if (ops == 0) return;
    const double n = static_cast<double>(ops);
    std::printf("  per %s: %.1f store reads, %.1f store writes, %.4f commits\n", what,
                static_cast<double>(total.reads) / n, static_cast<double>(total.writes) / n,
                static_cast<double>(total.commits) / n);
  }
};

// Disbursements out of the prefunded balance: each client submits its share, a batch at a time.
double RunPushes(pay::Engine& e, const Options& opt, const std::vector<std::string>& cards,
                 pay::bench::CountingStore& counting) {
  const bool count_per_batch = opt.clients == 1;  // the counters are read between batches
  Work pushed;
  auto run_client = [&](int64_t k) {
    for (int64_t done = k * opt.batch; done < opt.pairs; done += opt.batch * opt.clients) {
      const int64_t n = std::min(opt.batch, opt.pairs - done);
      std::vector<pay::Command> batch(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        pay::Command& c = batch[static_cast<size_t>(i)];
        c.merchant = "bench";
        c.idempotency_key = "p" + std::to_string(done + i);
        c.request = pay::PushRequest{{cards[static_cast<size_t>((done + i) % opt.cards)], "", ""},
                                     1000 + i, "USD", "FD", "Bench", "", "Recipient"};
      }
      const pay::bench::StoreWork before = count_per_batch ? counting.work() : pay::bench::StoreWork{};
      auto results = e.SubmitBatch(batch);
      if (count_per_batch) pushed.Add(counting.work() - before, n);
      for (const auto& r : results) {
        if (!r) Die("push: " + r.error().message);
        if (r->payment_status != "completed") Die("push: status " + r->payment_status);
      }
    }
  };
  const pay::bench::StoreWork work_before = counting.work();
  auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int64_t k = 0; k < opt.clients; ++k) threads.emplace_back(run_client, k);
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  if (!count_per_batch) pushed.Add(counting.work() - work_before, opt.pairs);
  pushed.Print("disbursement");
  if (opt.calls) PrintCalls(counting, opt.pairs);
  return static_cast<double>(opt.pairs) / seconds;
}

double RunOnce(const Options& opt, int rep) {
  namespace fs = std::filesystem;
  const std::string dir = opt.dir + "/rep" + std::to_string(rep);
  fs::remove_all(dir);
  fs::create_directories(dir);
  pay::SystemClock clock;
  pay::network::IssuerOptions io;
  io.db_path = dir + "/issuer.db";
  io.clock = &clock;
  io.durable = opt.full;
  io.open_to_buy_major = 1'000'000'000;
  auto issuer = pay::network::Issuer::Open(io);
  if (!issuer) Die(issuer.error().message);
  std::unique_ptr<pay::CardNetwork> network;
  std::unique_ptr<pay::network::TcpNetworkServer> server;
  if (opt.tcp) {
    auto s = pay::network::TcpNetworkServer::Start(**issuer, pay::network::FaultConfig{}, "127.0.0.1", 0);
    if (!s) Die(s.error().message);
    server = std::move(*s);
    pay::network::TcpClientOptions co;
    co.deadline_ms = 10'000;
    auto c = pay::network::TcpCardNetwork::Connect("127.0.0.1", server->port(), co);
    if (!c) Die(c.error().message);
    network = std::move(*c);
  }
  if (!network) {
    network = std::make_unique<pay::network::SimulatedCardNetwork>(**issuer, pay::network::FaultConfig{}, 2000);
  }
  pay::store::StoreOptions so;
  so.create_if_missing = true;
  so.durability = opt.full ? pay::store::Durability::kFull : pay::store::Durability::kNormal;
  // --postgres: the acquirer's books in a fresh schema of that server, dropped after the rep.
  std::unique_ptr<pay::testing::PgSchema> schema;
  if (!opt.postgres.empty()) schema = std::make_unique<pay::testing::PgSchema>(opt.postgres.c_str());
  auto opened = schema ? pay::store::OpenPostgresStore(schema->conninfo(), so)
                       : pay::store::OpenSqliteStore(dir + "/acquirer.db", so);
  if (!opened) Die(opened.error().message);
  std::unique_ptr<pay::store::Store> acquirer = std::move(*opened);
  // Counted where the calls reach the database: behind the buffer when there is one (each
  // counted call is then a statement sent, an Apply one pipelined write set).
  auto counting = std::make_shared<pay::bench::CountingStore>(std::move(acquirer));
  pay::EngineOptions o;
  o.store = counting;
  if (opt.buffered) o.store = std::make_shared<pay::store::BufferedStore>(counting, pay::limits::kBufferedHotRows);
  o.clock = &clock;
  o.card_network = network.get();
  o.card_fingerprint_key = "bench fingerprint key 0123456789";
  auto engine = pay::Engine::Open(o);
  if (!engine) Die(engine.error().message);
  pay::Engine& e = **engine;
  pay::Command m;
  m.merchant = "bench";
  m.idempotency_key = "merchant";
  m.request = pay::CreateMerchantRequest{"bench", "USD", 250, 0};
  if (auto r = e.Submit(m); !r) Die(r.error().message);

  std::vector<std::string> cards;
  for (int64_t i = 0; i < opt.cards; ++i) cards.push_back(pay::bench::Card(i));
  if (opt.push) {
    pay::Command f;
    f.merchant = "bench";
    f.idempotency_key = "prefund";
    f.request = pay::FundRequest{1'000'000'000'000LL, "USD", std::nullopt};
    if (auto r = e.Submit(f); !r) Die(r.error().message);
    const double rate = RunPushes(e, opt, cards, *counting);
    if (auto v = e.Verify(); !v || !v->ok()) Die("the acquirer ledger does not verify");
    if (auto iv = (*issuer)->Verify(); !iv || !iv->ok()) Die("the issuer ledger does not verify");
    return rate;
  }
  // Each client submits its share of the pairs, one batch of authorizations then one of their
  // captures at a time; with several clients their batches meet in the engine's pipeline.
  struct Client {
    double auth_s = 0, capture_s = 0;
    Work authorized, captured;
  };
  std::vector<Client> clients(static_cast<size_t>(opt.clients));
  const bool count_per_kind = opt.clients == 1;  // the counters are read between batches
  const pay::bench::StoreWork work_before = counting->work();
  auto run_client = [&](int64_t k, Client& cl) {
    for (int64_t done = k * opt.batch; done < opt.pairs; done += opt.batch * opt.clients) {
      const int64_t n = std::min(opt.batch, opt.pairs - done);
      std::vector<pay::Command> auths(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        pay::Command& c = auths[static_cast<size_t>(i)];
        c.merchant = "bench";
        c.idempotency_key = "a" + std::to_string(done + i);
        c.request = pay::AuthorizeRequest{{cards[static_cast<size_t>((done + i) % opt.cards)], "12/30", ""}, 1000 + i, "USD"};
      }
      auto t0 = SteadyClock::now();
      pay::bench::StoreWork before = count_per_kind ? counting->work() : pay::bench::StoreWork{};
      auto results = e.SubmitBatch(auths);
      cl.auth_s += std::chrono::duration<double>(SteadyClock::now() - t0).count();
      if (count_per_kind) cl.authorized.Add(counting->work() - before, n);
      std::vector<pay::Command> caps;
      caps.reserve(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        const auto& r = results[static_cast<size_t>(i)];
        if (!r) Die("authorize: " + r.error().message);
        if (r->payment_status != "authorized") Die("authorize: status " + r->payment_status);
        pay::Command c;
        c.merchant = "bench";
        c.idempotency_key = "c" + std::to_string(done + i);
        c.request = pay::CaptureRequest{r->payment_id, std::nullopt, false};
        caps.push_back(std::move(c));
      }
      auto t1 = SteadyClock::now();
      before = count_per_kind ? counting->work() : pay::bench::StoreWork{};
      auto captured = e.SubmitBatch(caps);
      cl.capture_s += std::chrono::duration<double>(SteadyClock::now() - t1).count();
      if (count_per_kind) cl.captured.Add(counting->work() - before, n);
      for (const auto& r : captured) {
        if (!r) Die("capture: " + r.error().message);
        if (r->payment_status != "captured") Die("capture: status " + r->payment_status);
      }
    }
  };
  const int64_t round_trips_before = pay::store::pg::round_trips.load();
  auto start = SteadyClock::now();
  {
    std::vector<std::thread> threads;
    for (int64_t k = 0; k < opt.clients; ++k) {
      threads.emplace_back(run_client, k, std::ref(clients[static_cast<size_t>(k)]));
    }
    for (std::thread& t : threads) t.join();
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const int64_t ops = 2 * opt.pairs;
  if (count_per_kind) {
    const Client& cl = clients.front();
    std::printf("  authorizations %.0f/s, captures %.0f/s\n",
                static_cast<double>(opt.pairs) / cl.auth_s,
                static_cast<double>(opt.pairs) / cl.capture_s);
    cl.authorized.Print("authorization");
    cl.captured.Print("capture");
  } else {
    Work all;
    all.Add(counting->work() - work_before, ops);
    all.Print("operation");
  }
  if (opt.calls) PrintCalls(*counting, ops);
  if (!opt.postgres.empty()) {  // every client's, and the network's none (the issuer is SQLite)
    const double trips = static_cast<double>(pay::store::pg::round_trips.load() - round_trips_before);
    const double batches = 2.0 * std::ceil(static_cast<double>(opt.pairs) / static_cast<double>(opt.batch));
    std::printf("  PostgreSQL round trips: %.3f per operation, %.1f per batch (%.0f batches)\n",
                trips / static_cast<double>(ops), trips / batches, batches);
  }
  auto v = e.Verify();
  if (!v || !v->ok()) Die("the acquirer ledger does not verify");
  auto iv = (*issuer)->Verify();
  if (!iv || !iv->ok()) Die("the issuer ledger does not verify");
  return static_cast<double>(ops) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  std::string parent = std::filesystem::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + ": a value is required");
      return argv[++i];
    };
    if (a == "--pairs") opt.pairs = std::atoll(next().c_str());
    else if (a == "--batch") opt.batch = std::atoll(next().c_str());
    else if (a == "--reps") opt.reps = std::atoi(next().c_str());
    else if (a == "--cards") opt.cards = std::atoll(next().c_str());
    else if (a == "--durability") opt.full = next() != "normal";
    else if (a == "--tcp") opt.tcp = true;
    else if (a == "--push") opt.push = true;
    else if (a == "--calls") opt.calls = true;
    else if (a == "--clients") opt.clients = std::atoll(next().c_str());
    else if (a == "--dir") parent = next();
    else if (a == "--postgres") opt.postgres = next();
    else if (a == "--buffered") opt.buffered = true;
    else Die("unknown option " + a + " (--pairs --batch --reps --cards --durability --tcp --push --calls --clients --dir --postgres --buffered)");
  }
  if (opt.pairs <= 0 || opt.batch <= 0 || opt.reps <= 0 || opt.cards <= 0 || opt.clients <= 0) Die("counts must be positive");
  pay::bench::ScratchDir scratch(parent, "pull_bench");  // removed at the end, with its contents
  opt.dir = scratch.path();
  std::vector<double> rates;
  for (int rep = 0; rep < opt.reps; ++rep) {
    double r = RunOnce(opt, rep);
    rates.push_back(r);
    std::printf("rep %d: %.0f %s/s (%s, %s network, batch %lld, %lld client%s)\n", rep, r,
                opt.push ? "disbursements" : "payment operations",
                opt.full ? "durable" : "normal", opt.tcp ? "tcp" : "in-process",
                static_cast<long long>(opt.batch), static_cast<long long>(opt.clients),
                opt.clients == 1 ? "" : "s");
  }
  std::sort(rates.begin(), rates.end());
  std::printf("median: %.0f %s/s (%lld %s per rep)\n", rates[rates.size() / 2],
              opt.push ? "disbursements" : "payment operations", static_cast<long long>(opt.pairs),
              opt.push ? "disbursements" : "authorize+capture pairs");
  return 0;
}
