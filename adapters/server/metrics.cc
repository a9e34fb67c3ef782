#include "adapters/server/metrics.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace pay::server {

namespace {

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string Label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Head(const char* name, const char* type, const char* help) {
  return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

// name{label="value"} n, for each entry.
std::string Family(const char* name, const char* label, const std::map<std::string, int64_t>& m) {
  std::string t;
  for (const auto& [k, v] : m) {
    t += std::string(name) + "{" + label + "=\"" + Label(k) + "\"} " + std::to_string(v) + "\n";
  }
  return t;
}

bool Creates(Operation op) {
  return op == Operation::kAuthorize || op == Operation::kPush || op == Operation::kP2p ||
         op == Operation::kFund;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

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

void MetricsRegistry::Answered(Operation op, const Result<Outcome>& r) {
  std::lock_guard lock(mu_);
  if (!r) {
    if (r.error().code != ErrorCode::kVelocityLimited) return;  // input errors: not counted here
    ++velocity_[r.error().rule];
    if (op == Operation::kAuthorize) ++authorizations_[{"refused", "", "velocity_limited"}];
    return;
  }
  const Outcome& o = *r;
  if (o.replayed) {
    ++replays;
    return;
  }
  const std::string& status = o.payment_status;
  const bool unknown = status == "unknown" || (Creates(op) && status == "reversed");
  if (op == Operation::kAuthorize) {
    if (o.declined) {
      ++authorizations_[{"refused", "", std::string(o.decline.name())}];
    } else if (unknown) {
      ++authorizations_[{"unknown", "", "timeout"}];
    } else {
      const std::string result = status == "declined" ? "declined" : "approved";
      ++authorizations_[{result, o.response_code,
                         DescribeResponseCode(o.response_code).decline_code}];
    }
  }
  if (o.declined) return;
  if (unknown && (Creates(op) || op == Operation::kIncrement)) {
    ++timeouts_[std::string(OperationName(op))];
    // A card authorization or an AFT without an answer is reversed; a push is inquired after.
    if (op != Operation::kPush) ++reversals_["timeout"];
  }
  if (op == Operation::kVoidPayment) ++reversals_["void"];
  if ((op == Operation::kPush || op == Operation::kP2p) && !status.empty()) ++payouts_[status];
}

void MetricsRegistry::WebhookDelivery(const std::string& outcome) {
  std::lock_guard lock(mu_);
  ++webhooks_[outcome];
}

void MetricsRegistry::AttachEngine(Engine& engine, const Clock* clock) {
  std::lock_guard lock(books_mu_);
  engine_ = &engine;
  clock_ = clock;
}

std::string MetricsRegistry::OutcomeText() const {
  std::string t = Head("paymentd_authorizations_total", "counter",
                       "Authorizations answered, by result (approved, declined by the issuer, "
                       "refused before the network, unknown: no answer) and response code with "
                       "its reason.");
  for (const auto& [k, v] : authorizations_) {
    const auto& [result, code, reason] = k;
    t += "paymentd_authorizations_total{result=\"" + result + "\",response_code=\"" + Label(code) +
         "\",reason=\"" + Label(reason) + "\"} " + std::to_string(v) + "\n";
  }
  t += Head("paymentd_network_timeouts_total", "counter",
            "Exchanges with the card network without an answer, by operation.");
  t += Family("paymentd_network_timeouts_total", "operation", timeouts_);
  t += Head("paymentd_reversals_total", "counter",
            "Reversals queued to the network, by cause (void, timeout).");
  t += Family("paymentd_reversals_total", "cause", reversals_);
  t += Head("paymentd_payouts_total", "counter", "Push and P2P payouts answered, by status.");
  t += Family("paymentd_payouts_total", "status", payouts_);
  t += Head("paymentd_velocity_hits_total", "counter", "Requests refused by a velocity rule.");
  t += Family("paymentd_velocity_hits_total", "rule", velocity_);
  if (!webhooks_.empty()) {
    t += Head("paymentd_webhook_deliveries_total", "counter",
              "Webhook delivery attempts by outcome.");
    t += Family("paymentd_webhook_deliveries_total", "outcome", webhooks_);
  }
  return t;
}

// The gauges and totals of the books, read at most every kBookScanIntervalMs.
std::string MetricsRegistry::BooksText() const {
  std::lock_guard lock(books_mu_);
  if (engine_ == nullptr) return "";
  const int64_t at = SteadyMs();
  // Again after kBookScanIntervalMs, or ten times what the last reading took if longer: reading
  // the books takes at most a tenth of a core however often /metrics is scraped.
  const int64_t interval_ms = std::max(kBookScanIntervalMs, 10 * books_read_took_ms_);
  if (books_read_at_ms_ >= 0 && at - books_read_at_ms_ < interval_ms) return books_text_;
  const int64_t now_ms = clock_ != nullptr ? clock_->NowMs() : SystemClock().NowMs();
  auto totals = SumPayments(*engine_, now_ms, kExpiringWithinMs);
  const int64_t took_ms = SteadyMs() - at;
  if (!totals) {
    return Head("paymentd_books_read_errors_total", "gauge", "The books could not be read.") +
           "paymentd_books_read_errors_total 1\n";
  }
  const PaymentTotals& b = *totals;
  std::string t = Head("paymentd_payments", "gauge", "Payments in the books by kind and status.");
  for (const auto& [ks, n] : b.by_status) {
    t += "paymentd_payments{kind=\"" + std::string(PaymentKindName(ks.first)) + "\",status=\"" +
         std::string(PaymentStatusName(ks.second)) + "\"} " + std::to_string(n) + "\n";
  }
  t +=
      Head("paymentd_payments_in_doubt", "gauge",
           "Payments waiting on the network (no answer yet; a reversal or inquiry is on its way).");
  t += "paymentd_payments_in_doubt " + std::to_string(b.in_doubt) + "\n";
  t += Head("paymentd_authorizations_expiring", "gauge",
            "Authorizations with an amount still capturable that expire within 24 h.");
  t += "paymentd_authorizations_expiring " + std::to_string(b.expiring) + "\n";
  t += Head("paymentd_payouts_pending_credit_oldest_age_seconds", "gauge",
            "Age of the oldest payout the recipient's issuer has not credited yet (0: none).");
  const int64_t age_ms = b.pending_credit > 0 ? now_ms - b.pending_credit_oldest_at_ms : 0;
  t += "paymentd_payouts_pending_credit_oldest_age_seconds " +
       std::to_string(std::max<int64_t>(0, age_ms) / 1000) + "\n";
  // Money by merchant (the first kMetricsMerchantsMax by id, then "other") and currency.
  std::map<std::pair<std::string, std::string>, PaymentSums> shown;
  std::map<std::string, int> seen;
  for (const auto& [mc, sums] : b.by_merchant) {
    if (!seen.count(mc.first) && seen.size() < kMetricsMerchantsMax) seen[mc.first] = 1;
    PaymentSums& to = shown[{seen.count(mc.first) ? mc.first : "other", mc.second}];
    to.captured_minor += sums.captured_minor;
    to.refunded_minor += sums.refunded_minor;
    to.settled_minor += sums.settled_minor;
    to.pushed_minor += sums.pushed_minor;
    to.fee_minor += sums.fee_minor;
  }
  t += Head("paymentd_volume_minor_total", "counter",
            "Money by merchant, currency and flow (captured, refunded, settled, pushed), in "
            "minor units, from the payment records.");
  for (const auto& [mc, s] : shown) {
    const std::string l = "merchant=\"" + Label(mc.first) + "\",currency=\"" + Label(mc.second);
    for (const auto& [flow, v] : {std::pair{"captured", s.captured_minor},
                                  {"refunded", s.refunded_minor},
                                  {"settled", s.settled_minor},
                                  {"pushed", s.pushed_minor}}) {
      t += "paymentd_volume_minor_total{" + l + "\",flow=\"" + flow + "\"} " + std::to_string(v) +
           "\n";
    }
  }
  t += Head("paymentd_fees_minor_total", "counter",
            "Settlement fees by merchant and currency, in minor units.");
  for (const auto& [mc, s] : shown) {
    t += "paymentd_fees_minor_total{merchant=\"" + Label(mc.first) + "\",currency=\"" +
         Label(mc.second) + "\"} " + std::to_string(s.fee_minor) + "\n";
  }
  t += Head("paymentd_books_read_duration_ms", "gauge",
            "How long the last reading of the books took.");
  t += "paymentd_books_read_duration_ms " + std::to_string(took_ms) + "\n";
  books_text_ = std::move(t);
  books_read_at_ms_ = SteadyMs();
  books_read_took_ms_ = took_ms;
  return books_text_;
}

std::string MetricsRegistry::Text() const {
  std::string t = CountersText();
  t += BooksText();  // without mu_: the writer never waits for a reading of the books
  if (more) t += more();
  return t;
}

std::string MetricsRegistry::CountersText() const {
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
  t += "# TYPE paymentd_idempotent_replays_total counter\npaymentd_idempotent_replays_total " + std::to_string(replays.load()) + "\n";
  t += "# TYPE paymentd_rate_limited_total counter\npaymentd_rate_limited_total " + std::to_string(rate_limited.load()) + "\n";
  t += "# TYPE paymentd_queue_full_total counter\npaymentd_queue_full_total " + std::to_string(queue_full.load()) + "\n";
  t += OutcomeText();
  return t;
}

}  // namespace pay::server
