#include "adapters/server/webhooks.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <thread>

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/json_writer.h"
#include "core/record_kinds.h"
#include "core/time_format.h"
#include "rails/payments/events.h"

namespace pay::server {

namespace {

using store::kWebhookEndpointRecord;
using store::kWebhookLeaseRecord;
using store::kWebhookLogRecord;
using store::kWebhookRetryRecord;

constexpr uint8_t kVersion = 1;
constexpr size_t kTypesMax = 32;
constexpr size_t kEndpointsPerMerchantMax = 16;
constexpr size_t kEndpointsMax = 10'000;
constexpr size_t kRetriesPerRoundMax = 1'000;
constexpr int64_t kLeaseMs = 30'000;
constexpr size_t kStringBytesMax = 4'096;

std::string Pad16(int64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016lld", static_cast<long long>(v));
  return buf;
}

std::string EncodeEndpoint(const WebhookEndpoint& e) {
  Writer w;
  w.U8(kVersion);
  for (const std::string* s : {&e.url, &e.secret, &e.disabled_reason, &e.cursor}) w.Str(*s);
  w.U8(e.enabled ? 1 : 0);
  w.I64(e.created_at_ms);
  w.I64(e.failures);
  w.I64(e.failing_since_ms);
  w.U32(static_cast<uint32_t>(e.types.size()));
  for (const auto& t : e.types) w.Str(t);
  return w.Take();
}

Result<WebhookEndpoint> DecodeEndpoint(const store::RecordRow& row) {
  WebhookEndpoint e;
  e.id = row.id;
  e.merchant = row.owner;
  Reader r(row.body);
  uint8_t version = 0, enabled = 0;
  uint32_t n = 0;
  bool ok = r.U8(&version) && version == kVersion;
  for (std::string* s : {&e.url, &e.secret, &e.disabled_reason, &e.cursor}) {
    ok = ok && r.Str(s, kStringBytesMax);
  }
  ok = ok && r.U8(&enabled) && r.I64(&e.created_at_ms) && r.I64(&e.failures) &&
       r.I64(&e.failing_since_ms) && r.U32(&n) && n <= kTypesMax;
  for (uint32_t i = 0; ok && i < n; ++i) ok = r.Str(&e.types.emplace_back(), kStringBytesMax);
  if (!ok || !r.done()) return MakeError(ErrorCode::kCorruptStore, "store: webhook endpoint " + row.id + " does not decode");
  e.enabled = enabled != 0;
  return e;
}

// A retry's body: its attempts so far, the event's id, type and JSON (the retry stands alone,
// even once the event is past its retention).
struct Retry {
  int64_t attempts = 0;
  std::string event_id, event_type, body;
};

std::string EncodeRetry(const Retry& r) {
  Writer w;
  w.U8(kVersion);
  w.I64(r.attempts);
  for (const std::string* s : {&r.event_id, &r.event_type, &r.body}) w.Str(*s);
  return w.Take();
}

Result<Retry> DecodeRetry(const store::RecordRow& row) {
  Retry out;
  Reader r(row.body);
  uint8_t version = 0;
  bool ok = r.U8(&version) && version == kVersion && r.I64(&out.attempts);
  for (std::string* s : {&out.event_id, &out.event_type, &out.body}) ok = ok && r.Str(s, 1 << 20);
  if (!ok || !r.done()) return MakeError(ErrorCode::kCorruptStore, "store: webhook retry " + row.id + " does not decode");
  return out;
}

std::string EncodeAttempt(const DeliveryAttempt& a) {
  Writer w;
  w.U8(kVersion);
  for (const std::string* s : {&a.event_id, &a.event_type, &a.outcome, &a.error}) w.Str(*s);
  for (int64_t v : {a.attempt, int64_t{a.status}, a.latency_ms, a.at_ms, a.next_attempt_ms}) w.I64(v);
  return w.Take();
}

Result<DeliveryAttempt> DecodeAttempt(const store::RecordRow& row) {
  DeliveryAttempt a;
  a.endpoint = row.owner;
  Reader r(row.body);
  uint8_t version = 0;
  int64_t status = 0;
  bool ok = r.U8(&version) && version == kVersion;
  for (std::string* s : {&a.event_id, &a.event_type, &a.outcome, &a.error}) ok = ok && r.Str(s, kStringBytesMax);
  for (int64_t* v : {&a.attempt, &status, &a.latency_ms, &a.at_ms, &a.next_attempt_ms}) ok = ok && r.I64(v);
  if (!ok || !r.done()) return MakeError(ErrorCode::kCorruptStore, "store: webhook delivery " + row.id + " does not decode");
  a.status = static_cast<int>(status);
  return a;
}

Result<void> CheckType(const std::string& t) {
  const bool ok = !t.empty() && t.size() <= 64 &&
                  std::all_of(t.begin(), t.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '*';
                  }) &&
                  t.find('*') >= t.size() - 1;
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "enabled_events: '" + t + "' is not an event type (e.g. payment.captured, payment.*, *)");
  }
  return {};
}

}  // namespace

bool WebhookEndpoint::Wants(std::string_view type) const {
  if (types.empty()) return true;
  return std::any_of(types.begin(), types.end(), [&](const std::string& t) { return EventFilter{t}.Matches(type); });
}

std::string WebhookEndpointJson(const WebhookEndpoint& e, bool with_secret) {
  JsonWriter w;
  w.BeginObject().Field("id", e.id).Field("object", "webhook_endpoint").Field("merchant", e.merchant);
  w.Field("url", e.url).Key("enabled_events").BeginArray();
  if (e.types.empty()) w.String("*");
  for (const auto& t : e.types) w.String(t);
  w.EndArray().Field("status", e.enabled ? "enabled" : "disabled");
  if (!e.disabled_reason.empty()) w.Field("disabled_reason", e.disabled_reason);
  w.Field("created", FormatRfc3339Ms(e.created_at_ms));
  w.Field("last_event", e.cursor.empty() ? std::string() : "evt_" + e.cursor);
  w.Field("failures_in_a_row", e.failures);
  if (with_secret) w.Field("secret", e.secret);
  w.EndObject();
  return w.str();
}

std::string DeliveryAttemptJson(const DeliveryAttempt& a) {
  JsonWriter w;
  w.BeginObject().Field("endpoint", a.endpoint).Field("event", a.event_id).Field("type", a.event_type);
  w.Field("attempt", a.attempt).Field("outcome", a.outcome).Field("status", a.status);
  if (!a.error.empty()) w.Field("error", a.error);
  w.Field("latency_ms", a.latency_ms).Field("at", FormatRfc3339Ms(a.at_ms));
  if (a.next_attempt_ms > 0) w.Field("next_attempt", FormatRfc3339Ms(a.next_attempt_ms));
  w.EndObject();
  return w.str();
}

std::string SignWebhook(std::string_view secret, int64_t timestamp_s, std::string_view body) {
  const std::string t = std::to_string(timestamp_s);
  const std::string signed_text = t + "." + std::string(body);
  return "t=" + t + ",v1=" + ToHex(HmacSha256(secret, signed_text));
}

Result<void> VerifyWebhookSignature(std::string_view secret, std::string_view header,
                                    std::string_view body, int64_t now_s, int64_t tolerance_s) {
  std::optional<int64_t> t;
  std::vector<std::string_view> v1;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (part.starts_with("t=")) {
      if (t) return MakeError(ErrorCode::kInvalidArgument, "Pay-Signature: t= given twice");
      int64_t v = 0;
      auto [end, ec] = std::from_chars(part.data() + 2, part.data() + part.size(), v);
      if (ec != std::errc() || end != part.data() + part.size()) {
        return MakeError(ErrorCode::kInvalidArgument, "Pay-Signature: t= is not a number");
      }
      t = v;
    } else if (part.starts_with("v1=")) {
      v1.push_back(part.substr(3));
    }
  }
  if (!t) return MakeError(ErrorCode::kInvalidArgument, "Pay-Signature: no t= timestamp");
  if (v1.empty()) return MakeError(ErrorCode::kInvalidArgument, "Pay-Signature: no v1= signature");
  if (*t < now_s - tolerance_s || *t > now_s + tolerance_s) {
    return MakeError(ErrorCode::kInvalidArgument, "Pay-Signature: the timestamp is outside the tolerance");
  }
  const std::string expected = SignWebhook(secret, *t, body);
  const std::string_view want = std::string_view(expected).substr(expected.find(",v1=") + 4);
  for (std::string_view s : v1) {
    if (ConstantTimeEqual(s, want)) return {};
  }
  return MakeError(ErrorCode::kInvalidArgument, "Pay-Signature: no v1= signature matches the body");
}

Result<void> CheckWebhookUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kInvalidArgument, "url: " + why + " (e.g. https://example.com/hooks)");
  };
  if (url.size() > 2048) return bad("longer than 2,048 bytes");
  std::string_view rest;
  if (url.starts_with("http://")) rest = url.substr(7);
  else if (url.starts_with("https://")) rest = url.substr(8);
  else return bad("must start with http:// or https://");
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) return bad("no host");
  if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad("spaces and control characters are not allowed");
  }
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535) {
      return bad("the port must be 1 to 65535");
    }
  }
  return {};
}

Result<EventView> FindEvent(Engine& engine, std::string_view merchant, std::string_view event_id) {
  const std::string row = payments::EventRowId(event_id);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(row.data(), row.data() + row.size(), n);
  auto none = MakeError(ErrorCode::kNotFound, "event: no event '" + std::string(event_id) + "'");
  if (ec != std::errc() || end != row.data() + row.size() || n < 1) return none;
  // The event is the first after the id just before it.
  PAY_ASSIGN_OR_RETURN(auto page, engine.ListEvents(merchant, "evt_" + Pad16(n - 1), {}, 1));
  if (page.items.empty() || page.items[0].id != event_id) return none;
  return std::move(page.items[0]);
}

// ---- endpoints ------------------------------------------------------------------------------

struct Webhooks::Work {
  std::string event_row;  // the event's record id
  Retry retry;            // attempts so far (0: a new event), the event
  bool is_retry = false;
};

Result<std::unique_ptr<Webhooks>> Webhooks::Open(const std::string& db_path, const Clock& clock,
                                                 WebhookOptions options) {
  store::StoreOptions so;  // durable: an endpoint or a cursor is on disk before it is shown
  PAY_ASSIGN_OR_RETURN(auto store, store::OpenStore(db_path, so));
  return std::make_unique<Webhooks>(std::move(store), clock, options);
}

Webhooks::Webhooks(std::unique_ptr<store::Store> store, const Clock& clock, WebhookOptions options)
    : store_(std::move(store)), clock_(clock), options_(options),
      random_(options.seed != 0 ? options.seed : static_cast<uint64_t>(clock.NowMs())) {}

Result<void> Webhooks::InTransaction(const std::function<Result<void>()>& body) {
  PAY_TRY(store_->BeginWrite());
  if (auto r = body(); !r) {
    store_->Rollback();
    return r.error();
  }
  return store_->Commit();  // a failed commit has rolled back
}

Result<WebhookEndpoint> Webhooks::Create(std::string_view merchant, std::string_view url,
                                         std::vector<std::string> types) {
  PAY_TRY(CheckWebhookUrl(url));
  if (merchant.empty()) return MakeError(ErrorCode::kInvalidArgument, "merchant: required");
  if (types.size() > kTypesMax) {
    return MakeError(ErrorCode::kInvalidArgument, "enabled_events: at most " + std::to_string(kTypesMax));
  }
  for (const auto& t : types) PAY_TRY(CheckType(t));
  if (std::find(types.begin(), types.end(), "*") != types.end()) types.clear();  // every event
  PAY_ASSIGN_OR_RETURN(auto id, RandomBytes(8));
  PAY_ASSIGN_OR_RETURN(auto secret, RandomBytes(24));
  WebhookEndpoint e;
  e.id = "we_" + ToHex(id);
  e.merchant = std::string(merchant);
  e.url = std::string(url);
  e.secret = "whsec_" + ToHex(secret);
  e.types = std::move(types);
  e.created_at_ms = clock_.NowMs();
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto mine, store_->ListRecords(kWebhookEndpointRecord, merchant, "", kEndpointsPerMerchantMax));
  if (mine.size() >= kEndpointsPerMerchantMax) {
    return MakeError(ErrorCode::kLimitExceeded, "webhook endpoints: at most " +
                                                    std::to_string(kEndpointsPerMerchantMax) + " per merchant");
  }
  // A new endpoint starts at the merchant's newest event: it is told what happens from now on.
  PAY_TRY(InTransaction([&]() -> Result<void> {
    return store_->PutRecord({kWebhookEndpointRecord, e.id, e.merchant, 0, EncodeEndpoint(e)});
  }));
  return e;
}

Result<std::vector<WebhookEndpoint>> Webhooks::List(std::string_view merchant) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto rows, store_->ListRecords(kWebhookEndpointRecord, merchant, "", kEndpointsMax));
  std::vector<WebhookEndpoint> out;
  for (const auto& row : rows) {
    PAY_ASSIGN_OR_RETURN(auto e, DecodeEndpoint(row));
    out.push_back(std::move(e));
  }
  return out;
}

Result<WebhookEndpoint> Webhooks::Load(std::string_view id) {
  PAY_ASSIGN_OR_RETURN(auto row, store_->FindRecord(kWebhookEndpointRecord, id));
  if (!row) return MakeError(ErrorCode::kNotFound, "endpoint: no webhook endpoint '" + std::string(id) + "'");
  return DecodeEndpoint(*row);
}

Result<WebhookEndpoint> Webhooks::Find(std::string_view id) {
  std::lock_guard lock(mu_);
  return Load(id);
}

Result<WebhookEndpoint> Webhooks::SetEnabled(std::string_view id, bool enabled) {
  std::lock_guard lock(mu_);
  WebhookEndpoint e;
  PAY_TRY(InTransaction([&]() -> Result<void> {
    PAY_ASSIGN_OR_RETURN(e, Load(id));
    e.enabled = enabled;
    e.disabled_reason = enabled ? "" : "disabled by an operator";
    e.failures = 0;
    e.failing_since_ms = 0;
    return store_->PutRecord({kWebhookEndpointRecord, e.id, e.merchant, 0, EncodeEndpoint(e)});
  }));
  return e;
}

Result<void> Webhooks::Delete(std::string_view id) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> Result<void> {
    PAY_ASSIGN_OR_RETURN(auto e, Load(id));
    PAY_ASSIGN_OR_RETURN(auto retries, store_->ListRecords(kWebhookRetryRecord, e.id, "", kRetriesPerRoundMax));
    for (const auto& r : retries) PAY_TRY(store_->DeleteRecord(kWebhookRetryRecord, r.id));
    return store_->DeleteRecord(kWebhookEndpointRecord, e.id);
  });
}

Result<void> Webhooks::Redeliver(const WebhookEndpoint& e, const EventView& event) {
  if (event.merchant != e.merchant) {
    return MakeError(ErrorCode::kNotFound, "event: no event '" + event.id + "' of merchant " + e.merchant);
  }
  Retry r{0, event.id, event.type, EventJson(event)};
  const std::string row = payments::EventRowId(event.id);
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowMs();
  return InTransaction([&]() -> Result<void> {
    DeliveryAttempt logged{e.id, event.id, event.type, 0, 0, "redelivery_queued", "", 0, now, now};
    PAY_TRY(store_->PutRecord({kWebhookLogRecord, e.id + "/" + Pad16(now) + "/" + row + "/0", e.id,
                               now + options_.log_retention_ms, EncodeAttempt(logged)}));
    return store_->PutRecord({kWebhookRetryRecord, e.id + "/" + row, e.id, now, EncodeRetry(r)});
  });
}

Result<std::vector<DeliveryAttempt>> Webhooks::Deliveries(std::string_view endpoint, size_t limit) {
  std::lock_guard lock(mu_);
  // Oldest first in the store; the newest `limit` are the tail.
  std::vector<DeliveryAttempt> all;
  std::string after;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(auto rows, store_->ListRecords(kWebhookLogRecord, endpoint, after, 1000));
    for (const auto& row : rows) {
      PAY_ASSIGN_OR_RETURN(auto a, DecodeAttempt(row));
      all.push_back(std::move(a));
      after = row.id;
    }
    if (all.size() > limit) all.erase(all.begin(), all.end() - static_cast<ptrdiff_t>(limit));
    if (rows.size() < 1000) break;
  }
  std::reverse(all.begin(), all.end());
  return all;
}

// ---- delivery -------------------------------------------------------------------------------

// Whether this process delivers now: the lease is free, expired or ours; taken for kLeaseMs.
Result<bool> Webhooks::TakeLease(std::string_view holder) {
  bool ours = false;
  const int64_t now = clock_.NowMs();
  if (lease_until_ms_ - now > kLeaseMs / 2) return true;  // held, renewed when half is gone
  PAY_TRY(InTransaction([&]() -> Result<void> {
    PAY_ASSIGN_OR_RETURN(auto row, store_->FindRecord(kWebhookLeaseRecord, "webhooks"));
    if (row && row->body != holder && row->due_ms > now) return {};
    ours = true;  // the holder is the body: a record's owner never changes
    return store_->PutRecord({kWebhookLeaseRecord, "webhooks", "", now + kLeaseMs, std::string(holder)});
  }));
  lease_until_ms_ = ours ? now + kLeaseMs : 0;
  return ours;
}

// The endpoint's due retries, then its events after the cursor (those it wants).
Result<std::vector<Webhooks::Work>> Webhooks::Gather(Engine& engine, const WebhookEndpoint& e,
                                                     int64_t now_ms) {
  std::vector<Work> work;
  PAY_ASSIGN_OR_RETURN(auto retries, store_->ListRecords(kWebhookRetryRecord, e.id, "", kRetriesPerRoundMax));
  for (const auto& row : retries) {
    if (row.due_ms > now_ms) continue;
    PAY_ASSIGN_OR_RETURN(Retry r, DecodeRetry(row));
    work.push_back({row.id.substr(e.id.size() + 1), std::move(r), true});
  }
  const std::string after = e.cursor.empty() ? std::string() : "evt_" + e.cursor;
  PAY_ASSIGN_OR_RETURN(auto page, engine.ListEvents(e.merchant, after, {}, options_.events_per_round));
  for (const EventView& ev : page.items) {
    Work w{payments::EventRowId(ev.id), Retry{0, ev.id, ev.type, {}}, false};
    if (e.Wants(ev.type)) w.retry.body = EventJson(ev);
    work.push_back(std::move(w));  // unwanted ones only move the cursor
  }
  return work;
}

DeliveryAttempt Webhooks::Attempt(const WebhookEndpoint& e, const Work& w, const HttpPoster& post) {
  DeliveryAttempt a;
  a.endpoint = e.id;
  a.event_id = w.retry.event_id;
  a.event_type = w.retry.event_type;
  a.attempt = w.retry.attempts + 1;
  const int64_t now_s = clock_.NowMs() / 1000;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"Pay-Signature", SignWebhook(e.secret, now_s, w.retry.body)},
      {"Pay-Event-Id", w.retry.event_id},
  };
  PostResult r = post(e.url, headers, w.retry.body, options_.timeout_ms);
  a.status = r.status;
  a.error = r.error;
  a.latency_ms = r.latency_ms;
  a.at_ms = clock_.NowMs();
  a.outcome = r.status >= 200 && r.status < 300 ? "delivered" : "failed";
  if (a.outcome == "failed" && a.error.empty()) a.error = "HTTP " + std::to_string(r.status);
  return a;
}

int64_t Webhooks::Backoff(int64_t attempt) {
  int64_t delay = options_.backoff_base_ms;
  for (int64_t i = 1; i < attempt && delay < options_.backoff_max_ms; ++i) delay *= 2;
  delay = std::min(delay, options_.backoff_max_ms);
  return delay / 2 + static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(delay / 2) + 1));
}

// One transaction: the attempts' log rows, retries put or removed, the cursor and the
// endpoint's failure state.
// The endpoint is read again in the transaction: an operator may have disabled or deleted it
// while the round was delivering (a deleted one keeps nothing of the round).
Result<void> Webhooks::Record(const std::string& endpoint_id, const std::vector<Work>& work,
                              std::vector<DeliveryAttempt>& attempts, int64_t now_ms) {
  return InTransaction([&]() -> Result<void> {
    PAY_ASSIGN_OR_RETURN(auto row, store_->FindRecord(kWebhookEndpointRecord, endpoint_id));
    if (!row) return {};
    PAY_ASSIGN_OR_RETURN(WebhookEndpoint e, DecodeEndpoint(*row));
    size_t next = 0;
    for (const Work& w : work) {
      if (!w.is_retry) e.cursor = std::max(e.cursor, w.event_row);
      if (w.retry.body.empty()) continue;  // an event the endpoint does not want
      DeliveryAttempt& a = attempts[next++];
      const std::string retry_id = e.id + "/" + w.event_row;
      if (a.outcome == "delivered") {
        e.failures = 0;
        e.failing_since_ms = 0;
        if (w.is_retry) PAY_TRY(store_->DeleteRecord(kWebhookRetryRecord, retry_id));
      } else {
        if (e.failures++ == 0) e.failing_since_ms = now_ms;
        if (a.attempt >= options_.attempts_max) {
          a.outcome = "gave_up";
          if (w.is_retry) PAY_TRY(store_->DeleteRecord(kWebhookRetryRecord, retry_id));
        } else {
          a.next_attempt_ms = now_ms + Backoff(a.attempt);
          Retry r = w.retry;
          r.attempts = a.attempt;
          PAY_TRY(store_->PutRecord({kWebhookRetryRecord, retry_id, e.id, a.next_attempt_ms, EncodeRetry(r)}));
        }
      }
      PAY_TRY(store_->PutRecord({kWebhookLogRecord,
                                 e.id + "/" + Pad16(a.at_ms) + "/" + w.event_row + "/" + std::to_string(a.attempt),
                                 e.id, a.at_ms + options_.log_retention_ms, EncodeAttempt(a)}));
    }
    if (e.enabled && e.failures >= options_.disable_failures &&
        now_ms - e.failing_since_ms >= options_.disable_after_ms) {
      e.enabled = false;
      e.disabled_reason = std::to_string(e.failures) + " attempts failed in a row since " +
                          FormatRfc3339Ms(e.failing_since_ms);
    }
    return store_->PutRecord({kWebhookEndpointRecord, e.id, e.merchant, 0, EncodeEndpoint(e)});
  });
}

// The store is used under mu_, the receivers are called without it (an endpoint managed from
// the API never waits for a delivery).
Result<std::vector<DeliveryAttempt>> Webhooks::RunOnce(Engine& engine, const HttpPoster& post,
                                                       std::string_view holder) {
  std::vector<DeliveryAttempt> all;
  PAY_ASSIGN_OR_RETURN(auto endpoints, List(""));
  bool leased = false;
  for (const WebhookEndpoint& e : endpoints) {
    if (!e.enabled) continue;
    const int64_t now = clock_.NowMs();
    std::unique_lock lock(mu_);
    PAY_ASSIGN_OR_RETURN(auto work, Gather(engine, e, now));
    if (work.empty()) continue;
    if (!leased) {
      PAY_ASSIGN_OR_RETURN(leased, TakeLease(holder));
      if (!leased) return all;  // another process delivers
    }
    lock.unlock();
    std::vector<DeliveryAttempt> attempts;
    for (const Work& w : work) {
      if (!w.retry.body.empty()) attempts.push_back(Attempt(e, w, post));
    }
    lock.lock();
    PAY_TRY(Record(e.id, work, attempts, now));
    for (auto& a : attempts) all.push_back(std::move(a));
  }
  std::lock_guard lock(mu_);  // the log's old rows go (bounded per round)
  PAY_ASSIGN_OR_RETURN(auto old, store_->DueRecords(kWebhookLogRecord, clock_.NowMs(), kRetriesPerRoundMax));
  if (!old.empty()) {
    PAY_TRY(InTransaction([&]() -> Result<void> {
      for (const auto& row : old) PAY_TRY(store_->DeleteRecord(kWebhookLogRecord, row.id));
      return {};
    }));
  }
  return all;
}

// ---- the worker thread ----------------------------------------------------------------------

struct WebhookWorker::Impl {
  Engine& engine;
  Webhooks& hooks;
  HttpPoster post;
  int64_t poll_ms;
  std::function<void(const DeliveryAttempt&)> observe;
  std::string holder;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;

  void Run() {
    std::unique_lock lock(mu);
    while (!stop) {
      lock.unlock();
      auto attempts = hooks.RunOnce(engine, post, holder);
      if (!attempts) {
        std::fprintf(stderr, "paymentd: webhooks: %s\n", attempts.error().message.c_str());
      } else if (observe) {
        for (const auto& a : *attempts) observe(a);
      }
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(poll_ms), [&] { return stop; });
    }
  }
};

WebhookWorker::WebhookWorker(Engine& engine, Webhooks& hooks, HttpPoster post, int64_t poll_ms,
                             std::function<void(const DeliveryAttempt&)> observe) {
  auto id = RandomBytes(8);
  impl_.reset(new Impl{engine, hooks, std::move(post), poll_ms, std::move(observe),
                       id ? ToHex(*id) : std::string("node"), {}, {}, false, {}});
  impl_->thread = std::thread([this] { impl_->Run(); });
}

WebhookWorker::~WebhookWorker() { Stop(); }

void WebhookWorker::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

}  // namespace pay::server
