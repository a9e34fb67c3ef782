#include "adapters/server/metrics.h"

#include <cstdio>

namespace pay::server {

void MetricsRegistry::Request(const std::string& route, unsigned status, double ms) {
  std::lock_guard lock(mu_);
  ++requests_[route + "\"," + "status=\"" + std::to_string(status)];
  for (size_t i = 0; i < std::size(kLatencyBucketsMs); ++i) {
    if (ms <= kLatencyBucketsMs[i]) ++latency_[i];
  }
  ++latency_count_;
  latency_sum_ms_ += ms;
}

void MetricsRegistry::Commit(size_t batch) {
  std::lock_guard lock(mu_);
  ++commits_;
  batch_sum_ += static_cast<int64_t>(batch);
  for (size_t i = 0; i < std::size(kBatchBuckets); ++i) {
    if (static_cast<int64_t>(batch) <= kBatchBuckets[i]) ++batches_[i];
  }
}

std::string MetricsRegistry::Text() const {
  std::lock_guard lock(mu_);
  std::string t;
  t += "# HELP paymentd_requests_total HTTP requests by route and status.\n# TYPE paymentd_requests_total counter\n";
  for (const auto& [k, v] : requests_) {
    t += "paymentd_requests_total{route=\"" + k + "\"} " + std::to_string(v) + "\n";
  }
  t += "# HELP paymentd_request_duration_ms Request latency.\n# TYPE paymentd_request_duration_ms histogram\n";
  for (size_t i = 0; i < std::size(kLatencyBucketsMs); ++i) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", kLatencyBucketsMs[i]);
    t += "paymentd_request_duration_ms_bucket{le=\"" + std::string(le) + "\"} " + std::to_string(latency_[i]) + "\n";
  }
  t += "paymentd_request_duration_ms_bucket{le=\"+Inf\"} " + std::to_string(latency_count_) + "\n";
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.3f", latency_sum_ms_);
  t += "paymentd_request_duration_ms_sum " + std::string(sum) + "\n";
  t += "paymentd_request_duration_ms_count " + std::to_string(latency_count_) + "\n";
  t += "# HELP paymentd_commits_total Group commits by the writer.\n# TYPE paymentd_commits_total counter\n";
  t += "paymentd_commits_total " + std::to_string(commits_) + "\n";
  t += "# HELP paymentd_batch_size Commands per group commit.\n# TYPE paymentd_batch_size histogram\n";
  for (size_t i = 0; i < std::size(kBatchBuckets); ++i) {
    t += "paymentd_batch_size_bucket{le=\"" + std::to_string(kBatchBuckets[i]) + "\"} " + std::to_string(batches_[i]) + "\n";
  }
  t += "paymentd_batch_size_bucket{le=\"+Inf\"} " + std::to_string(commits_) + "\n";
  t += "paymentd_batch_size_sum " + std::to_string(batch_sum_) + "\n";
  t += "paymentd_batch_size_count " + std::to_string(commits_) + "\n";
  t += "# TYPE paymentd_velocity_hits_total counter\npaymentd_velocity_hits_total " + std::to_string(velocity_hits.load()) + "\n";
  t += "# TYPE paymentd_idempotent_replays_total counter\npaymentd_idempotent_replays_total " + std::to_string(replays.load()) + "\n";
  t += "# TYPE paymentd_rate_limited_total counter\npaymentd_rate_limited_total " + std::to_string(rate_limited.load()) + "\n";
  t += "# TYPE paymentd_queue_full_total counter\npaymentd_queue_full_total " + std::to_string(queue_full.load()) + "\n";
  if (more) t += more();
  return t;
}

}  // namespace pay::server
