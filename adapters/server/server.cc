// paymentd's facade (see server.h): builds the roles and wires them together. No Beast or Asio
// here: the network lives in listener.cc and session.cc.

#include "adapters/server/server.h"

#include <chrono>

#include "adapters/server/authenticator.h"
#include "adapters/server/dispatcher.h"
#include "adapters/server/listener.h"
#include "adapters/server/metrics.h"
#include "adapters/server/rate_limiter.h"
#include "adapters/server/session_context.h"
#include "adapters/server/writer.h"
#include "core/crypto.h"

namespace pay::server {

namespace {

constexpr std::chrono::seconds kStopAnswersWaitMax{10};

}  // namespace

// Members in dependency order: each is destroyed before what it uses.
struct Server::Impl {
  Impl(Engine& engine, ApiKeys& keys, const ServerOptions& o, std::string request_id_prefix)
      : options(o),
        limiter(o.rate_per_s, o.burst),
        auth_failures(o.auth_failures_per_s, o.auth_failures_burst),
        authenticator(keys),
        writer(engine, metrics, o.queue_max, o.batch_max),
        dispatcher(engine, keys, authenticator, limiter, auth_failures, writer, metrics),
        context(options, dispatcher, metrics, std::move(request_id_prefix)) {
    metrics.AttachEngine(engine, o.clock);  // the gauges of the books, read on scrape
    // Merchants live where the engine keeps them (with partitions, not in the keys' database).
    keys.SetMerchantLookup([&engine](std::string_view id) -> Result<bool> {
      auto m = engine.GetMerchant(id);
      if (!m && m.error().code == ErrorCode::kUnknownMerchant) return false;
      if (!m) return m.error();
      return true;
    });
    dispatcher.set_webhooks(o.webhooks);
    metrics.more = [&engine] {  // where reads ran (EngineOptions::replica_db_path)
      const Engine::ReadRouting r = engine.read_routing();
      return "# HELP paymentd_reads_total Reads of the books by where they ran (replica, or "
             "primary when the replica lagged).\n# TYPE paymentd_reads_total counter\n"
             "paymentd_reads_total{served_by=\"replica\"} " + std::to_string(r.on_replica) +
             "\npaymentd_reads_total{served_by=\"primary\"} " + std::to_string(r.on_primary) + "\n";
    };
  }

  const ServerOptions options;
  MetricsRegistry metrics;
  RateLimiter limiter;
  RateLimiter auth_failures;
  Authenticator authenticator;
  Writer writer;
  Dispatcher dispatcher;
  SessionContext context;
  std::unique_ptr<Listener> listener;
  std::unique_ptr<WebhookWorker> webhook_worker;  // destroyed first: it counts into metrics
  std::atomic<bool> stopped{false};
};

Server::Server() = default;
Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(Engine& engine, ApiKeys& keys, const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server());
  PAY_ASSIGN_OR_RETURN(std::string random, RandomBytes(5));
  server->impl_ = std::make_unique<Impl>(engine, keys, options, "req_" + ToHex(random));
  PAY_ASSIGN_OR_RETURN(server->impl_->listener, Listener::Start(server->impl_->context));
  Impl& i = *server->impl_;
  if (options.webhooks != nullptr) {
    i.webhook_worker = std::make_unique<WebhookWorker>(
        engine, *options.webhooks, options.webhook_poster ? options.webhook_poster : HttpPoster(PostHttp),
        options.webhook_poll_ms, [&i](const DeliveryAttempt& a) { i.metrics.WebhookDelivery(a.outcome); });
  }
  return server;
}

uint16_t Server::port() const { return impl_->listener->port(); }
bool Server::tls() const { return impl_->listener->tls(); }
size_t Server::connections_max() const { return impl_->listener->connections_max(); }
std::string Server::Metrics() const { return impl_->metrics.Text(); }

void Server::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  Impl& i = *impl_;
  if (i.webhook_worker) i.webhook_worker->Stop();
  i.context.stopping = true;
  if (i.listener) i.listener->StopAccepting();
  i.writer.Stop();  // everything accepted is committed, and its answer handed to its session
  i.context.in_flight.WaitIdle(kStopAnswersWaitMax);  // and written (bounded wait)
  if (i.listener) i.listener->Join();
}

void Server::WaitForSignal(const std::atomic<bool>* stop) {
  Listener::WaitForSignal(stop);
  Stop();
}

}  // namespace pay::server
