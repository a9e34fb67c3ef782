#include "tests/chaos/campaign.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <sqlite3.h>

#include "core/card.h"
#include "core/json_fields.h"
#include "pay/money.h"
#include "tests/chaos/process.h"

namespace pay::chaos {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kMerchants[] = {"acme", "beta", "gamma"};
constexpr auto kWaitMax = std::chrono::seconds(120);  // any single wait of the campaign
constexpr auto kResolveMax = std::chrono::seconds(30);  // an in-flight key must answer within
constexpr const char* kGrace = "2s";

constexpr const char* kVelocityRules = R"toml(
[[rule]]
name = "card-per-minute"
operations = ["authorize"]
key = ["card"]
  [[rule.window]]
  algorithm = "gcra"
  window = "1m"
  limit = 30
)toml";

std::string Amount(int64_t minor) { return FormatMinor(minor, 2); }

}  // namespace

Campaign::Campaign(Options options) : o_(std::move(options)) {
  if (cluster()) o_.tcp = true;  // one network simulator for every node
  Random rnd(o_.seed);
  for (int i = 0; i < 512; ++i) {  // Luhn-valid cards the simulator approves within open-to-buy
    std::string pan = "42424242";
    for (int d = 0; d < 7; ++d) pan.push_back(static_cast<char>('0' + rnd.Uniform(10)));
    for (char check = '0'; check <= '9'; ++check) {
      if (card::LuhnValid(pan + check)) {
        cards_.push_back(pan + check);
        break;
      }
    }
  }
}

std::string Campaign::Card(Random& rnd) const {
  const uint64_t x = rnd.Uniform(100);
  if (x < 3) return "4000000000000002";  // declined, 05
  if (x < 5) return "4000000000000341";  // no answer: unknown, then reversed
  return cards_[rnd.Uniform(cards_.size())];
}

bool Campaign::SetUp() {
  std::string parent = o_.parent.empty() ? std::filesystem::temp_directory_path().string() : o_.parent;
  std::filesystem::create_directories(parent);
  std::string pattern = parent + "/chaos.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return false;
  dir_ = pattern;
  if (!o_.postgres.empty()) {
    pg_ = std::make_unique<testing::PgSchema>(o_.postgres.c_str());
    if (!pg_->available()) return false;
  }
  std::ofstream(dir_ + "/velocity.toml") << kVelocityRules;
  std::ofstream(CardKey()) << "the campaign's card fingerprint key";
  if (chaos::Run(Ctl({"init"}), Log()) != 0) return false;
  for (const std::string m : kMerchants) {
    if (chaos::Run(Ctl({"merchant", "create", m, "--currency", "USD"}), Log()) != 0) return false;
    std::string out;
    if (chaos::Run(Ctl({"--merchant", m, "apikey", "create"}), Log(), &out) != 0) return false;
    merchant_keys_[m] = out.substr(0, out.find('\n'));
  }
  std::string out;
  if (chaos::Run(Ctl({"apikey", "create", "--admin"}), Log(), &out) != 0) return false;
  admin_key_ = out.substr(0, out.find('\n'));
  if (o_.tcp && !StartNetwork()) return false;
  nodes_.resize(static_cast<size_t>(o_.nodes));
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!StartServer({}, i)) return false;
  }
  if (cluster() && !StartBalancer()) return false;
  Record fund{"fund", "/v1/funding?merchant=acme", admin_key_, "fund-acme",
              R"({"amount":"1000000.00","currency":"USD"})", {}, {}};
  fund.first = Send(port_, "POST", fund.path, fund.api_key, fund.key, fund.body);
  return fund.first.status == 200;
}

std::vector<std::string> Campaign::Ctl(std::initializer_list<std::string> args) const {
  std::vector<std::string> v = {o_.paymentctl, "--db", Db(), "--issuer-db", IssuerDb(),
                                "--card-key-file", CardKey()};
  v.insert(v.end(), args);
  return v;
}

// --tcp: the issuer simulator behind its own TCP listener, on the same port after a restart.
bool Campaign::StartNetwork() {
  Child c = Spawn(Ctl({"--json", "network-sim", "--listen", "127.0.0.1:" + std::to_string(network_port_),
                       "--faults", o_.faults + ",seed=" + std::to_string(o_.seed + generation_)}),
                  Log());
  if (c.pid < 0) return false;
  const std::string where = JsonStringField(ReadLine(c.out), "listening");
  close(c.out);
  network_port_ = where.empty() ? 0 : std::atoi(where.c_str() + where.rfind(':') + 1);
  network_ = c.pid;
  return network_port_ != 0;
}

bool Campaign::StartServer(const Phase& phase, size_t node) {
  std::vector<std::string> args = Ctl({"--config", dir_ + "/velocity.toml", "--exchange-grace", kGrace,
                                       "--network-deadline", "300ms", "--max-db-pages",
                                       std::to_string(phase.max_pages)});
  if (o_.tcp) {
    args.insert(args.end(), {"--network", "tcp://127.0.0.1:" + std::to_string(network_port_)});
  } else {
    args.insert(args.end(), {"--network-faults", o_.faults + ",seed=" + std::to_string(o_.seed + generation_)});
  }
  args.insert(args.end(), {"--json", "serve", "--listen",
                           "127.0.0.1:" + std::to_string(nodes_[node].port), "--rate", "0"});
  std::vector<std::string> env;
  if (!phase.clock_offset.empty()) env.push_back("PAYMENTCTL_CLOCK_OFFSET=" + phase.clock_offset);
  Child c = Spawn(args, Log(), env);
  if (c.pid < 0) return false;
  const std::string line = ReadLine(c.out);  // {"listening":"127.0.0.1:PORT","tls":false}
  close(c.out);
  const std::string where = JsonStringField(line, "listening");
  const int port = where.empty() ? 0 : std::atoi(where.c_str() + where.rfind(':') + 1);
  if (port == 0) {
    std::fprintf(stderr, "chaos: paymentd did not start (%s); see %s\n", line.c_str(), Log().c_str());
    kill(c.pid, SIGKILL);
    waitpid(c.pid, nullptr, 0);
    return false;
  }
  std::lock_guard lock(mu_);
  nodes_[node] = {c.pid, port};
  if (!cluster()) port_ = port;
  up_ = true;
  ++generation_;
  changed_.notify_all();
  return true;
}

// HAProxy in front of the nodes, on a port free a moment ago (another is tried if it was taken
// since), with the configuration scripts/cluster.sh gives; ready once /healthz answers through it.
bool Campaign::StartBalancer() {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    const int port = ntohs(a.sin_port);
    std::vector<std::string> args = {o_.cluster_script, "haproxy-config", std::to_string(port)};
    for (const Node& n : nodes_) args.push_back("127.0.0.1:" + std::to_string(n.port));
    std::string config;
    if (chaos::Run(args, Log(), &config) != 0) return false;
    std::ofstream(dir_ + "/haproxy.cfg") << config;
    Child c = Spawn({"/usr/bin/env", "haproxy", "-db", "-f", dir_ + "/haproxy.cfg"}, dir_ + "/haproxy.log");
    if (c.pid < 0) return false;
    close(c.out);
    const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (SteadyClock::now() < deadline && waitpid(c.pid, nullptr, WNOHANG) == 0) {
      if (Send(port, "GET", "/healthz", "", "", "").status == 200) {
        balancer_ = c.pid;
        port_ = port;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // HAProxy starting
    }
    Stop(c.pid);
  }
  std::fprintf(stderr, "chaos: HAProxy did not start; see %s/haproxy.log\n", dir_.c_str());
  return false;
}

void Campaign::Stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

// The database's size in pages now (what a quota is set against).
int64_t Campaign::PageCount() const {
  sqlite3* db = nullptr;
  int64_t pages = 0;
  if (sqlite3_open_v2(Db().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      pages = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return pages;
}

// Kill by kill: a full disk (a quota 1 page above the current size), the clock two hours
// ahead, back to the right time (so it went back two hours), then plainly; with --tcp the
// network simulator is killed and restarted too every second time.
Phase Campaign::NextPhase(int n) {
  Phase p;
  switch (cluster() ? 0 : n % 4) {  // a cluster's nodes keep one clock and no quota
    case 1:
      if (pg_) break;  // the quota is SQLite's (max_page_count); PostgreSQL has none
      p.name = "full disk";
      p.max_pages = PageCount() + 1;
      ++f_.full_disk_runs;
      break;
    case 2:
      p.name = "clock +2h";
      p.clock_offset = "2h";
      ++f_.clock_jumps;
      break;
    default: break;
  }
  if (o_.tcp && n % 2 == 0) {
    kill(network_, SIGKILL);
    waitpid(network_, nullptr, 0);
    ++f_.network_kills;
    if (!StartNetwork()) p.name = "";
  }
  return p;
}

void Campaign::KillServer(size_t node) {
  if (!cluster()) {  // a cluster stays up behind its load balancer
    std::lock_guard lock(mu_);
    up_ = false;
  }
  kill(nodes_[node].pid, SIGKILL);
  waitpid(nodes_[node].pid, nullptr, 0);
  ++f_.kills;
}

// One kill of the campaign: the one paymentd, restarted at once in the next phase; or in a
// cluster, the node killed last restarted and another (or the same) killed.
bool Campaign::KillRound(int k, Random& rnd) {
  if (!cluster()) {
    KillServer();
    const Phase phase = NextPhase(k + 1);
    plain_ = phase.max_pages == 0 && phase.clock_offset.empty();
    return *phase.name != '\0' && StartServer(phase);
  }
  if (down_ >= 0) {
    if (!StartServer({}, static_cast<size_t>(down_))) return false;
    ++f_.node_restarts;
  }
  down_ = static_cast<int>(rnd.Uniform(nodes_.size()));
  KillServer(static_cast<size_t>(down_));
  return *NextPhase(k + 1).name != '\0';
}

// ---- load -------------------------------------------------------------------------------------

Record Campaign::NextOp(Client& c) {
  Random& rnd = c.rnd;
  const char* merchant = rnd.Uniform(100) < 60 ? "acme" : kMerchants[1 + rnd.Uniform(2)];
  Record r;
  r.api_key = merchant_keys_[merchant];
  r.key = "k" + std::to_string(&c - clients_.data()) + "-" + std::to_string(c.records.size());
  const uint64_t x = rnd.Uniform(100);
  if (x < 5 && !c.records.empty()) {  // a repeated key: the same request again
    Record again = c.records[rnd.Uniform(c.records.size())];
    again.first = again.last = Reply{};
    return again;
  }
  auto follow_up = [&](const std::vector<std::pair<std::string, std::string>>& open,
                       const char* kind, const char* body) {
    const auto& [payment, key] = open[rnd.Uniform(open.size())];
    r.kind = kind;
    r.path = "/v1/payments/" + payment + "/" + kind;
    r.api_key = key;
    r.body = body;
  };
  if (x < 20 && !c.authorized.empty()) {
    follow_up(c.authorized, "capture", rnd.Uniform(2) == 0 ? R"({"amount":"1.00"})" : R"({"final":true})");
  } else if (x < 27 && !c.authorized.empty()) {
    follow_up(c.authorized, "void", "{}");
  } else if (x < 35 && !c.captured.empty()) {
    follow_up(c.captured, "refund", R"({"amount":"0.50"})");
  } else if (x < 45) {
    r.kind = "disbursement";
    r.api_key = merchant_keys_["acme"];
    r.path = "/v1/disbursements";
    r.body = R"({"card":{"number":")" + cards_[rnd.Uniform(cards_.size())] + R"("},"amount":")" +
             Amount(rnd.Range(100, 5000)) + R"(","currency":"USD","purpose":"FD","recipient_name":"Ada"})";
  } else if (x < 50) {
    r.kind = "p2p";
    r.path = "/v1/p2p";
    r.body = R"({"from_card":{"number":")" + Card(rnd) + R"(","expiry":"12/30"},"to_card":{"number":")" +
             cards_[rnd.Uniform(cards_.size())] + R"("},"amount":")" + Amount(rnd.Range(100, 2000)) +
             R"(","currency":"USD"})";
  } else {
    r.kind = "authorize";
    r.path = "/v1/payments/authorize";
    r.body = R"({"card":{"number":")" + Card(rnd) + R"(","expiry":"12/30"},"amount":")" +
             Amount(rnd.Range(100, 20000)) + R"(","currency":"USD"})";
  }
  return r;
}

Reply Campaign::Submit(Record& r) {
  int port = 0;
  int64_t generation = 0;
  {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, kWaitMax, [&] { return up_ || stop_; });
    port = port_;
    generation = generation_;
  }
  Reply reply = Send(port, "POST", r.path, r.api_key, r.key, r.body);
  std::unique_lock lock(mu_);
  ++f_.sent;
  if (reply.status != 0 && reply.status != 502 && reply.status != 504) {
    ++answered_;
    ++f_.answered;
    changed_.notify_all();
    return reply;
  }
  ++f_.unanswered;  // the server died under it (or is dying): wait for its next start
  if (cluster()) return reply;  // the load balancer sends the next one to a live node
  changed_.wait_for(lock, kWaitMax, [&] { return stop_ || generation_ != generation; });
  return reply;
}

void Campaign::Load(Client& c) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    Record r = NextOp(c);
    r.first = Submit(r);
    if (r.first.status == 200) {
      const std::string id = JsonStringField(r.first.body, "payment_id");
      const std::string status = JsonStringField(r.first.body, "status");
      if (r.kind == "authorize" && status == "authorized") c.authorized.emplace_back(id, r.api_key);
      if (r.kind == "capture") c.captured.emplace_back(id, r.api_key);
    }
    c.records.push_back(std::move(r));
  }
}

// ---- the resend of every key --------------------------------------------------------------------

void Campaign::Resend(Record& r) {
  const auto start = SteadyClock::now();
  for (;;) {
    r.last = Send(port_, "POST", r.path, r.api_key, r.key, r.body);
    const auto waited = SteadyClock::now() - start;
    if (Answered(r.last) || waited > kResolveMax) {
      f_.resolve_s_max = std::max(f_.resolve_s_max, std::chrono::duration<double>(waited).count());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server resolves it
  }
}

// ---- the campaign -------------------------------------------------------------------------------

bool Campaign::Run() {
  if (!SetUp()) {
    std::fprintf(stderr, "chaos: set-up failed; see %s\n", Log().c_str());
    return false;
  }
  clients_.reserve(o_.threads);
  for (int t = 0; t < o_.threads; ++t) clients_.push_back(Client{Random(o_.seed * 1000 + t), {}, {}, {}});
  std::vector<std::thread> threads;
  for (Client& c : clients_) threads.emplace_back([this, &c] { Load(c); });
  Random rnd(o_.seed);
  bool ok = true;
  for (int k = 0; k <= o_.kills && ok; ++k) {
    // A full disk answers 503 at once: a fifth of the answers is enough of it.
    const int64_t ops = plain_ || o_.ops_per_kill < 10 ? o_.ops_per_kill : o_.ops_per_kill / 5;
    const int64_t more = ops / 2 + static_cast<int64_t>(rnd.Uniform(ops));
    std::unique_lock lock(mu_);
    const int64_t target = answered_ + more;
    ok = changed_.wait_for(lock, kWaitMax, [&] { return answered_ >= target; });
    lock.unlock();
    if (ok && k < o_.kills) ok = KillRound(k, rnd);
  }
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    changed_.notify_all();
  }
  for (auto& t : threads) t.join();
  if (!ok) std::fprintf(stderr, "chaos: the load stalled or paymentd did not restart; see %s\n", Log().c_str());
  if (ok && !plain_) {  // the resend runs against paymentd as configured, not a full disk
    KillServer();
    ok = StartServer();
  }
  if (ok && down_ >= 0) {  // the resend runs with every node up
    ok = StartServer({}, static_cast<size_t>(down_));
    ++f_.node_restarts;
  }
  for (Client& c : clients_) {
    for (Record& r : c.records) Resend(r);
  }
  for (const Node& n : nodes_) Stop(n.pid);
  Stop(balancer_);
  Stop(network_);
  ok = Check() && ok;
  Print();
  if (ok && !o_.keep) std::filesystem::remove_all(dir_);
  if (!ok) std::fprintf(stderr, "chaos: FAILED; the databases and paymentd.log are in %s\n", dir_.c_str());
  return ok;
}

void Campaign::Print() const {
  std::map<std::string, std::map<int, int64_t>> answers;  // kind -> first answer's status -> n
  for (const Client& c : clients_) {
    for (const Record& r : c.records) ++answers[r.kind][r.first.status];
  }
  std::printf("chaos: first answers by operation (HTTP status: count; 0: none, the server died)\n");
  for (const auto& [kind, by_status] : answers) {
    std::printf("  %-12s", kind.c_str());
    for (const auto& [status, n] : by_status) std::printf(" %d: %lld", status, static_cast<long long>(n));
    std::printf("\n");
  }
  std::printf(
      "chaos: seed %llu, %d threads, faults %s\n"
      "  requests sent %lld, answered %lld, unanswered %lld; paymentd killed %lld times\n"
      "  payments %lld; answers changed %lld, payments doubled %lld, lost %lld, unresolved %lld, "
      "disagreeing with the issuer %lld\n"
      "  faults: full disk %lld runs, clock jumps %lld, network simulator killed %lld times%s\n"
      "  nodes %d%s, restarted %lld times\n"
      "  longest wait for an in-flight key %.1f s; verify acquirer %s, issuer %s\n",
      static_cast<unsigned long long>(o_.seed), o_.threads, o_.faults.c_str(),
      static_cast<long long>(f_.sent), static_cast<long long>(f_.answered),
      static_cast<long long>(f_.unanswered), static_cast<long long>(f_.kills),
      static_cast<long long>(f_.payments), static_cast<long long>(f_.changed),
      static_cast<long long>(f_.doubled), static_cast<long long>(f_.lost),
      static_cast<long long>(f_.unresolved), static_cast<long long>(f_.disagreeing),
      static_cast<long long>(f_.full_disk_runs), static_cast<long long>(f_.clock_jumps),
      static_cast<long long>(f_.network_kills), o_.tcp ? " (over TCP)" : " (in-process network)",
      o_.nodes, cluster() ? " behind HAProxy" : "", static_cast<long long>(f_.node_restarts),
      f_.resolve_s_max, f_.verify_acquirer ? "ok" : "FAILED", f_.verify_issuer ? "ok" : "FAILED");
}

}  // namespace pay::chaos
