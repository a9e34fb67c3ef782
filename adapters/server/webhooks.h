#pragma once
// Webhooks: a merchant's endpoints (a URL and the event types it wants) and the delivery of the
// merchant's events (include/pay/events.h) to them, signed, at least once, in the background.
//
// Like API keys, webhooks belong to the server channel: their rows live in the engine's
// database (record kinds 21-24, core/record_kinds.h) on a store connection of the channel's own,
// and the events are read through Engine::ListEvents. Nothing here runs on the write path: an
// event is committed with its change, and the worker finds it afterwards.
//
// Delivery: each endpoint has a cursor (the last event it has handled). A round reads the events
// after it and the retries that are due, POSTs each (body: the event's JSON; header
// Pay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the endpoint's
// secret>, the scheme Stripe-Signature uses), then writes in one transaction: the cursor, a retry
// for every failure (exponential backoff with jitter, at most attempts_max attempts), one
// delivery-log row per attempt, the endpoint's failure count, and its disabling after sustained
// failure. A crash before that commit sends the round's events again (at least once, never
// lost). Several processes on one database take turns through a lease row.
//
// Threading: a Webhooks object may be called from any thread (it serialises its store use).

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.h"
#include "core/store.h"
#include "pay/clock.h"
#include "pay/engine.h"
#include "pay/result.h"

namespace pay::server {

struct WebhookEndpoint {
  std::string id;  // we_ + 16 hex digits
  std::string merchant;
  std::string url;
  std::string secret;              // whsec_ + 48 hex digits
  std::vector<std::string> types;  // exact types or prefixes ending in '*'; empty: every event
  bool enabled = true;
  std::string disabled_reason;
  int64_t created_at_ms = 0;
  std::string cursor;            // the last event handled (its record id); "" before the first
  int64_t failures = 0;          // attempts failed in a row
  int64_t failing_since_ms = 0;  // the first of them; 0 when the last attempt succeeded
  bool Wants(std::string_view type) const;
};

// One delivery attempt, as the log keeps it.
struct DeliveryAttempt {
  std::string endpoint;
  std::string event_id;
  std::string event_type;
  int64_t attempt = 1;
  int status = 0;           // the receiver's HTTP status; 0: no answer
  std::string outcome;      // delivered, failed (will retry), gave_up, or redelivered (queued)
  std::string error;        // why an attempt failed without a status (timeout, refused, ...)
  int64_t latency_ms = 0;
  int64_t at_ms = 0;
  int64_t next_attempt_ms = 0;  // failed: when the retry is due
};

// {"id","object":"webhook_endpoint","merchant","url","enabled_events","status",...}; the secret
// only when `with_secret` (on creation).
std::string WebhookEndpointJson(const WebhookEndpoint& e, bool with_secret);
std::string DeliveryAttemptJson(const DeliveryAttempt& a);

// One event of `merchant` by id (kNotFound when there is none, or it is another merchant's).
Result<EventView> FindEvent(Engine& engine, std::string_view merchant, std::string_view event_id);

// The Pay-Signature header's value for `body` sent at `timestamp_s`.
std::string SignWebhook(std::string_view secret, int64_t timestamp_s, std::string_view body);
// Checks a Pay-Signature header as a receiver would: one t=, at least one v1= (any may match),
// the timestamp within `tolerance_s` of `now_s`. kInvalidArgument naming what is wrong.
Result<void> VerifyWebhookSignature(std::string_view secret, std::string_view header,
                                    std::string_view body, int64_t now_s, int64_t tolerance_s = 300);

// What a POST to a receiver gave.
struct PostResult {
  int status = 0;      // 0: no HTTP answer
  std::string error;   // when status is 0
  int64_t latency_ms = 0;
};
using HttpPoster = std::function<PostResult(const std::string& url,
                                            const std::vector<std::pair<std::string, std::string>>& headers,
                                            const std::string& body, int64_t timeout_ms)>;
// The real one (HTTP/1.1 over TCP, or TLS for https:// with the system's trust store;
// adapters/server/webhook_client.cc).
PostResult PostHttp(const std::string& url,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& body, int64_t timeout_ms);
// An endpoint URL as accepted: http:// or https://, a host, an optional port, no user info, at
// most 2,048 bytes. kInvalidArgument naming "url".
Result<void> CheckWebhookUrl(std::string_view url);

struct WebhookOptions {
  int64_t timeout_ms = 10'000;          // per attempt
  int64_t backoff_base_ms = 10'000;     // the first retry's delay; doubling after that
  int64_t backoff_max_ms = 6 * 3600'000;
  int64_t attempts_max = 12;            // then the delivery is given up (logged as gave_up)
  int64_t disable_failures = 100;       // failed attempts in a row ...
  int64_t disable_after_ms = 3 * 24 * 3600'000LL;  // ... over at least this long: disabled
  size_t events_per_round = 100;        // per endpoint
  int64_t log_retention_ms = 7 * 24 * 3600'000LL;
  uint64_t seed = 0;                    // of the jitter; 0: from the clock
};

class Webhooks {
 public:
  // A store connection of its own on the engine's database (which must exist).
  static Result<std::unique_ptr<Webhooks>> Open(const std::string& db_path, const Clock& clock,
                                                WebhookOptions options = {});
  Webhooks(std::unique_ptr<store::Store> store, const Clock& clock, WebhookOptions options);

  // ---- endpoints (CLI and admin API) ----
  Result<WebhookEndpoint> Create(std::string_view merchant, std::string_view url,
                                 std::vector<std::string> types);
  Result<std::vector<WebhookEndpoint>> List(std::string_view merchant);
  Result<WebhookEndpoint> Find(std::string_view id);  // kNotFound
  // Enables (failure count reset) or disables an endpoint.
  Result<WebhookEndpoint> SetEnabled(std::string_view id, bool enabled);
  Result<void> Delete(std::string_view id);
  // Queues `event` for `endpoint` again, due now (manual redelivery).
  Result<void> Redeliver(const WebhookEndpoint& endpoint, const EventView& event);
  // The newest attempts of an endpoint, newest first, at most `limit`.
  Result<std::vector<DeliveryAttempt>> Deliveries(std::string_view endpoint, size_t limit);

  // ---- the worker ----
  // One round: every enabled endpoint's due retries and new events, delivered through `post`;
  // returns the attempts made. `holder` names this process for the lease.
  Result<std::vector<DeliveryAttempt>> RunOnce(Engine& engine, const HttpPoster& post,
                                               std::string_view holder);
  const WebhookOptions& options() const { return options_; }

 private:
  struct Work;
  Result<WebhookEndpoint> Load(std::string_view id);
  Result<bool> TakeLease(std::string_view holder);
  Result<std::vector<Work>> Gather(Engine& engine, const WebhookEndpoint& e, int64_t now_ms);
  DeliveryAttempt Attempt(const WebhookEndpoint& e, const Work& w, const HttpPoster& post);
  Result<void> Record(const std::string& endpoint_id, const std::vector<Work>& work,
                      std::vector<DeliveryAttempt>& attempts, int64_t now_ms);
  Result<void> InTransaction(const std::function<Result<void>()>& body);
  int64_t Backoff(int64_t attempt);

  std::unique_ptr<store::Store> store_;
  const Clock& clock_;
  WebhookOptions options_;
  std::mutex mu_;
  Random random_;
  int64_t lease_until_ms_ = 0;  // this process holds the delivery lease until then
};

// The worker thread of paymentd: a round every `poll_ms` (real time) until Stop.
class WebhookWorker {
 public:
  WebhookWorker(Engine& engine, Webhooks& hooks, HttpPoster post, int64_t poll_ms,
                std::function<void(const DeliveryAttempt&)> observe);
  ~WebhookWorker();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pay::server
