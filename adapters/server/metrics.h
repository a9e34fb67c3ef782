#pragma once
// paymentd's counters for GET /metrics (Prometheus text exposition, docs/api.md): HTTP requests,
// group commits, and what an acquirer watches. Counters of outcomes are counted by the writer as
// it answers (Answered); gauges and totals of the books are read from the engine on scrape
// (SumPayments over the payment records: O(payments), about 30 us a payment; at most once a
// second, and never more than a tenth of one core; see AttachEngine). Label sets are
// bounded: response codes, error names, velocity rule names (from the configuration), statuses,
// and at most kMetricsMerchantsMax merchants (the rest are "other"); never card data or ids.
//
// Threading: every member may be used from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "pay/clock.h"
#include "pay/engine.h"

namespace pay::server {

inline constexpr double kLatencyBucketsMs[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};
inline constexpr int64_t kBatchBuckets[] = {1, 10, 100, 500, 1000, 5000};
// Merchants labelled by id in the totals of the books (in id order); the rest are "other".
inline constexpr size_t kMetricsMerchantsMax = 50;
// The books are read again at most this often, or ten times what the last reading took if that
// is longer (a scrape in between gets the last reading).
inline constexpr int64_t kBookScanIntervalMs = 1'000;
// An authorization counts as close to expiry when it expires within this.
inline constexpr int64_t kExpiringWithinMs = 24LL * 3600 * 1000;

class MetricsRegistry {
 public:
  // One answered request: its route label, status and latency.
  void Request(const std::string& route, unsigned status, double ms);
  // One group commit of `batch` commands.
  void Commit(size_t batch);
  // The engine's answer to one command of operation `op` (the writer, after the commit):
  // authorizations by result and response code, timeouts, reversals, payouts by status,
  // velocity hits by rule, idempotent replays.
  void Answered(Operation op, const Result<Outcome>& result);
  // One webhook delivery attempt by its outcome (delivered, failed, gave_up, ...).
  void WebhookDelivery(const std::string& outcome);
  // The engine whose books the gauges read on scrape, by `clock` (nullptr: the system clock).
  // Call once, before the server starts; `engine` and `clock` must outlive the registry.
  void AttachEngine(Engine& engine, const Clock* clock);
  std::string Text() const;
  // More exposition text appended to Text() (set once, before the server starts).
  std::function<std::string()> more;

  std::atomic<int64_t> replays{0};
  std::atomic<int64_t> rate_limited{0};
  std::atomic<int64_t> queue_full{0};

 private:
  std::string CountersText() const;
  std::string OutcomeText() const;  // mu_ held
  std::string BooksText() const;

  mutable std::mutex mu_;
  std::map<std::string, int64_t> requests_;
  int64_t latency_[std::size(kLatencyBucketsMs)] = {};
  int64_t latency_count_ = 0;
  double latency_sum_ms_ = 0;
  int64_t commits_ = 0;
  int64_t batch_sum_ = 0;
  int64_t batches_[std::size(kBatchBuckets)] = {};
  // (result, response code, reason) of authorizations.
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> authorizations_;
  std::map<std::string, int64_t> timeouts_;   // by operation
  std::map<std::string, int64_t> reversals_;  // by cause: void, timeout
  std::map<std::string, int64_t> payouts_;    // push and P2P answers by status
  std::map<std::string, int64_t> velocity_;   // by rule
  std::map<std::string, int64_t> webhooks_;   // by outcome

  Engine* engine_ = nullptr;
  const Clock* clock_ = nullptr;
  mutable std::mutex books_mu_;  // the reading of the books, apart from mu_ (it takes a while)
  mutable std::string books_text_;
  mutable int64_t books_read_at_ms_ = -1;  // steady clock; -1: never
  mutable int64_t books_read_took_ms_ = 0;
};

}  // namespace pay::server
