// Durable authorizations per second over HTTP: paymentd (in this process, 2 I/O threads, one
// writer with group commits) on 127.0.0.1 with the simulated card network, and a load client of
// N keep-alive connections (one blocking thread each) sending authorizations with their own
// idempotency keys for a fixed time. Reports throughput and latency percentiles.
//
// Usage: http_bench [--connections 64] [--seconds 10] [--durability full|normal] [--dir PATH]
//        http_bench --target PORT --api-key KEY [--api-key KEY2 ...] [--connections 64] [--seconds 10]
// --target: the load goes to a server already running on 127.0.0.1:PORT (paymentd, or HAProxy in
// front of a cluster: tests/bench/cluster_bench.sh) with that merchant API key, and nothing is
// started here (no store counts, no verify: the caller checks its own books). With several keys
// (merchants), connection i sends with key i modulo their number.
// --dir PATH: where to make the working directory (a fresh subdirectory, removed at the end;
// PATH itself is never removed). Default: the system's temporary directory.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "adapters/server/server.h"
#include "core/store.h"
#include "tests/bench/cards.h"
#include "tests/bench/counting_store.h"
#include "tests/bench/scratch_dir.h"
#include "pay/simulator.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "http_bench: %s\n", what.c_str());
  std::exit(1);
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Die("connect failed");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Sends one request and reads one response; returns the status (0 on a broken connection).
int Exchange(int fd, const std::string& request, std::string& buf, std::string* body = nullptr) {
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return 0;
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t cl = buf.find("Content-Length: ");
      if (cl == std::string::npos) cl = buf.find("content-length: ");
      size_t len = cl != std::string::npos && cl < end ? std::strtoul(buf.c_str() + cl + 16, nullptr, 10) : 0;
      if (buf.size() >= end + 4 + len) {
        int status = std::atoi(buf.c_str() + 9);
        if (body != nullptr) *body = buf.substr(end + 4, len);
        buf.erase(0, end + 4 + len);
        return status;
      }
    }
    char tmp[16384];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return 0;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

// The payment one more connection reads (GET) while the others authorize: made by one POST
// (under a fixed key: against a server that has it already, the stored answer names it).
std::string Probe(uint16_t port, const std::string& key) {
  const std::string body = R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount_minor":100,"currency":"USD"})";
  const std::string req = "POST /v1/payments/authorize HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer " + key +
                          "\r\nIdempotency-Key: probe" +
                          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n" + body;
  int fd = Connect(port);
  std::string buf, answer;
  const int status = Exchange(fd, req, buf, &answer);
  close(fd);
  if (status != 200) Die("the probe authorization answered " + std::to_string(status));
  buf = answer;
  const size_t at = buf.find("\"payment_id\":\"");
  if (at == std::string::npos) Die("the probe's answer names no payment");
  return buf.substr(at + 14, buf.find('"', at + 14) - at - 14);
}

// N keep-alive connections authorizing for `seconds`, one more reading; prints the figures
// (with the store's work per authorization when `counting` is given). False on any non-200.
bool Load(uint16_t port, const std::vector<std::string>& keys, int connections, double seconds,
          const char* label, pay::bench::CountingStore* counting) {
  const std::string& key = keys.front();
  const std::string probe_id = Probe(port, key);
  std::atomic<bool> go{false}, done{false};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(connections));
  std::atomic<int64_t> errors{0}, approved{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([&, c] {
      const std::string& key = keys[static_cast<size_t>(c) % keys.size()];
      int fd = Connect(port);
      std::string buf, answer;
      int64_t n = 0;
      while (!go) std::this_thread::yield();
      while (!done) {
        const std::string body = R"({"card":{"number":")" + pay::bench::Card((c * 7919 + n) % 10'000) +
                                 R"(","expiry":"12/30"},"amount_minor":)" +
                                 std::to_string(100 + n % 1000) + R"(,"currency":"USD"})";
        const std::string req = "POST /v1/payments/authorize HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer " + key +
                                "\r\nIdempotency-Key: c" + std::to_string(c) + "-" + std::to_string(n++) +
                                "\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
        auto t0 = SteadyClock::now();
        int status = Exchange(fd, req, buf, &answer);
        latencies[static_cast<size_t>(c)].push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
        if (status != 200) ++errors;
        if (answer.find(R"("status":"authorized")") != std::string::npos) ++approved;
        if (status == 0) break;
      }
      close(fd);
    });
  }
  const pay::bench::StoreWork before = counting ? counting->work() : pay::bench::StoreWork{};
  std::vector<double> reads;
  std::thread reader([&] {
    int fd = Connect(port);
    std::string buf;
    const std::string req = "GET /v1/payments/" + probe_id + " HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer " +
                            key + "\r\n\r\n";
    while (!go) std::this_thread::yield();
    while (!done) {
      auto t0 = SteadyClock::now();
      int status = Exchange(fd, req, buf);
      reads.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
      if (status != 200) ++errors;
      if (status == 0) break;
    }
    close(fd);
  });
  go = true;
  auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  done = true;
  for (auto& t : clients) t.join();
  reader.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
    std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())))]; };
  std::printf("%s: %zu authorizations in %.1f s = %.0f/s over %d connections; latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f; non-200 %lld; approved %lld\n",
              label, all.size(), elapsed, static_cast<double>(all.size()) / elapsed,
              connections, pct(0.5), pct(0.9), pct(0.99), all.empty() ? 0.0 : all.back(),
              static_cast<long long>(errors.load()), static_cast<long long>(approved.load()));
  std::sort(reads.begin(), reads.end());
  auto read_pct = [&](double p) {
    return reads.empty() ? 0.0 : reads[std::min(reads.size() - 1, static_cast<size_t>(p * static_cast<double>(reads.size())))];
  };
  std::printf("  GET /v1/payments/{id} on one more connection meanwhile: %zu reads, latency ms p50 %.2f p99 %.2f\n",
              reads.size(), read_pct(0.5), read_pct(0.99));
  if (counting == nullptr) return errors.load() == 0;
  const pay::bench::StoreWork w = counting->work() - before;
  const double n = all.empty() ? 1.0 : static_cast<double>(all.size());
  std::printf("  per authorization: %.1f store reads, %.1f store writes, %.4f commits (%.1f authorizations per commit)\n",
              static_cast<double>(w.reads) / n, static_cast<double>(w.writes) / n,
              static_cast<double>(w.commits) / n,
              w.commits == 0 ? 0.0 : n / static_cast<double>(w.commits));
  return errors.load() == 0;
}

}  // namespace

int main(int argc, char** argv) {
  int connections = 64;
  double seconds = 10;
  bool full = true;
  std::string parent = std::filesystem::temp_directory_path().string();
  uint16_t target_port = 0;
  std::vector<std::string> target_keys;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + ": a value is required");
      return argv[++i];
    };
    if (a == "--connections") connections = std::atoi(next().c_str());
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--durability") full = next() != "normal";
    else if (a == "--dir") parent = next();
    else if (a == "--target") target_port = static_cast<uint16_t>(std::atoi(next().c_str()));
    else if (a == "--api-key") target_keys.push_back(next());
    else Die("unknown option " + a + " (--connections --seconds --durability --dir --target --api-key)");
  }
  if (connections < 1 || seconds <= 0) Die("--connections and --seconds must be positive");
  if (target_port != 0) {
    if (target_keys.empty()) Die("--target needs --api-key");
    const std::string label = "127.0.0.1:" + std::to_string(target_port);
    return Load(target_port, target_keys, connections, seconds, label.c_str(), nullptr) ? 0 : 1;
  }
  pay::bench::ScratchDir scratch(parent, "http_bench");  // removed at the end, with its contents
  const std::string dir = scratch.path();
  pay::SimulatorOptions so;
  so.issuer_db_path = dir + "/issuer.db";
  so.durable = full;
  auto network = pay::CardNetworkSimulator::Open(so);
  if (!network) Die(network.error().message);
  // The engine's store is counted (tests/bench/counting_store.h): work per authorization.
  pay::store::StoreOptions sto;
  sto.create_if_missing = true;
  sto.durability = full ? pay::store::Durability::kFull : pay::store::Durability::kNormal;
  auto opened = pay::store::OpenSqliteStore(dir + "/paymentd.db", sto);
  if (!opened) Die(opened.error().message);
  auto counting = std::make_shared<pay::bench::CountingStore>(std::move(*opened));
  pay::EngineOptions o;
  o.store = counting;
  auto read_conn = pay::store::OpenSqliteStore(dir + "/paymentd.db", sto);  // GETs: not counted
  if (!read_conn) Die(read_conn.error().message);
  o.read_store = std::move(*read_conn);
  o.db_path = dir + "/paymentd.db";  // the API keys' own connection opens it too
  o.card_network = network->get();
  o.card_fingerprint_key = "bench fingerprint key 0123456789";
  auto engine = pay::Engine::Open(o);
  if (!engine) Die(engine.error().message);
  pay::Command m;
  m.merchant = "bench";
  m.idempotency_key = "merchant";
  m.request = pay::CreateMerchantRequest{"bench", "USD", 0, 0};
  if (auto r = (*engine)->Submit(m); !r) Die(r.error().message);
  pay::SystemClock clock;
  auto keys = pay::server::ApiKeys::Open(o.db_path, clock);
  if (!keys) Die(keys.error().message);
  auto key = (*keys)->Create("bench", false);
  if (!key) Die(key.error().message);
  pay::server::ServerOptions so2;
  so2.port = 0;
  so2.rate_per_s = 0;  // measuring the engine, not the limiter
  auto server = pay::server::Server::Start(**engine, **keys, so2);
  if (!server) Die(server.error().message);
  const uint16_t port = (*server)->port();

  const bool ok = Load(port, {*key}, connections, seconds, full ? "durable (FULL)" : "NORMAL", counting.get());
  (*server)->Stop();
  if (!ok) return 1;
  auto v = (*engine)->Verify();
  if (!v || !v->ok()) Die("the ledger does not verify");
  return 0;
}
