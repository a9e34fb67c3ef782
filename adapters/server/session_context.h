#pragma once
// What every paymentd session shares with the server (plain types: the facade in server.cc
// owns it without including Asio).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "adapters/server/dispatcher.h"
#include "adapters/server/metrics.h"
#include "adapters/server/server.h"

namespace pay::server {

// Requests read and not yet answered; Stop() waits for none to be left.
class InFlight {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++count_;
  }
  void Done() {
    std::lock_guard lock(mu_);
    if (--count_ <= 0) idle_.notify_all();
  }
  // True when none is left within `timeout`.
  bool WaitIdle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return idle_.wait_for(lock, timeout, [&] { return count_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  int64_t count_ = 0;
};

// Open connections per client address.
class ClientCounts {
 public:
  bool TryAdd(const std::string& ip, size_t max) {
    std::lock_guard lock(mu_);
    size_t& n = counts_[ip];
    if (n >= max) {
      if (n == 0) counts_.erase(ip);
      return false;
    }
    ++n;
    return true;
  }
  void Remove(const std::string& ip) {
    std::lock_guard lock(mu_);
    auto it = counts_.find(ip);
    if (it != counts_.end() && --it->second == 0) counts_.erase(it);
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, size_t> counts_;
};

struct SessionContext {
  SessionContext(const ServerOptions& o, Dispatcher& d, MetricsRegistry& m, std::string id_prefix)
      : options(o), dispatcher(d), metrics(m), request_id_prefix(std::move(id_prefix)) {}
  const ServerOptions& options;
  Dispatcher& dispatcher;
  MetricsRegistry& metrics;
  std::atomic<size_t> sessions{0};    // open connections
  ClientCounts clients;
  std::atomic<bool> stopping{false};  // no new requests; answers leave with Connection: close
  InFlight in_flight;
  // Request-Id of every answer: "req_", this server's random prefix, a counter (opaque to
  // clients, unique per server start).
  const std::string request_id_prefix;
  std::atomic<uint64_t> requests{0};
};

}  // namespace pay::server
