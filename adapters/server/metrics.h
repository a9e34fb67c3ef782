#pragma once
// paymentd's counters for GET /metrics (Prometheus text exposition, docs/api.md).
//
// Threading: every member may be used from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

namespace pay::server {

inline constexpr double kLatencyBucketsMs[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};
inline constexpr int64_t kBatchBuckets[] = {1, 10, 100, 500, 1000, 5000};

class MetricsRegistry {
 public:
  // One answered request: its route label, status and latency.
  void Request(const std::string& route, unsigned status, double ms);
  // One group commit of `batch` commands.
  void Commit(size_t batch);
  std::string Text() const;
  // More exposition text appended to Text() (set once, before the server starts).
  std::function<std::string()> more;

  std::atomic<int64_t> velocity_hits{0};
  std::atomic<int64_t> replays{0};
  std::atomic<int64_t> rate_limited{0};
  std::atomic<int64_t> queue_full{0};

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> requests_;
  int64_t latency_[std::size(kLatencyBucketsMs)] = {};
  int64_t latency_count_ = 0;
  double latency_sum_ms_ = 0;
  int64_t commits_ = 0;
  int64_t batch_sum_ = 0;
  int64_t batches_[std::size(kBatchBuckets)] = {};
};

}  // namespace pay::server
