#pragma once
// paymentd: the engine over HTTP/1.1 (Boost.Beast), started by `paymentctl serve`. A thin
// channel: it authenticates (API keys of its own, api_keys.h), limits the request rate per API
// key, translates requests into the same pay.v1 messages the transaction files use
// (adapters/requests), and hands commands to the writer (two threads) that commits them in groups
// (Engine::SubmitBatch). docs/api.md lists the routes; docs/architecture.md the roles (listener,
// session, dispatcher, router, authenticator, rate limiter, writer).
//
// Everything is bounded: connections, header and body sizes, read deadlines, the writer's queue
// (503 with Retry-After when full). Stop() is graceful: no new connections, queued commands are
// committed and answered, then the server exits. No Beast or Asio type appears here.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "adapters/server/api_keys.h"
#include "adapters/server/webhooks.h"
#include "pay/engine.h"

namespace pay::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: a free port (see Server::port())
  // HTTPS when both are given (PEM files); plain HTTP otherwise (meant for loopback).
  std::string tls_cert_path;
  std::string tls_key_path;
  int threads = 2;
  size_t connections_max = 1024;
  // Open connections per client address: one client cannot take every connection.
  size_t connections_per_client_max = 256;
  size_t header_bytes_max = 8 * 1024;
  size_t body_bytes_max = 64 * 1024;
  int64_t read_timeout_ms = 30'000;  // a request must arrive (and an answer leave) within this
  // Until a connection has sent a request with a valid API key, each request must arrive within
  // this (idle unauthenticated connections are not kept for read_timeout_ms).
  int64_t unauthenticated_timeout_ms = 5'000;
  size_t queue_max = 10'000;         // commands waiting for the writer
  size_t batch_max = 1'000;          // commands per group commit
  // The engine's clock, for the gauges of the books on /metrics (authorizations close to expiry,
  // the age of pending credits); nullptr: the system clock. Must outlive the server.
  const Clock* clock = nullptr;
  // Per API key, before the idempotency layer: GCRA, `rate_per_s` sustained with bursts of
  // `burst`. 0: no limit.
  double rate_per_s = 1'000;
  int64_t burst = 2'000;
  // Failed authentications per client address (GCRA): past them, /v1/ requests from that
  // address are answered 429 without looking at their key. 0: no limit.
  double auth_failures_per_s = 10;
  int64_t auth_failures_burst = 20;
  // The access log: one JSON object per answered request (time, request_id, ip, method, route,
  // status, duration_ms, bytes), called from the I/O threads. Never card data or secrets: the
  // route pattern is logged, not the path, and no header or body. Empty: no log.
  std::function<void(std::string_view line)> access_log;
  // Webhook endpoints (/v1/webhook_endpoints) and their delivery in the background, a round
  // every webhook_poll_ms; nullptr: neither. Must outlive the server.
  Webhooks* webhooks = nullptr;
  int64_t webhook_poll_ms = 250;
  HttpPoster webhook_poster;  // empty: PostHttp (tests may pass their own)
};

class Server {
 public:
  // `engine` and `keys` (usually on a store connection of their own to the engine's database)
  // must outlive the server.
  static Result<std::unique_ptr<Server>> Start(Engine& engine, ApiKeys& keys,
                                               const ServerOptions& options);
  ~Server();
  uint16_t port() const;
  bool tls() const;
  size_t connections_max() const;  // in effect: --max-connections within the open-file limit
  // Graceful: stops accepting, commits and answers what was accepted, closes. Idempotent.
  void Stop();
  // Blocks until SIGINT or SIGTERM (or `stop` is set, polled every 50 ms), then Stop().
  void WaitForSignal(const std::atomic<bool>* stop = nullptr);
  // Prometheus text exposition (GET /metrics).
  std::string Metrics() const;

 private:
  struct Impl;
  Server();
  std::unique_ptr<Impl> impl_;
};

}  // namespace pay::server
