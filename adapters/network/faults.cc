#include "adapters/network/faults.h"

#include <charconv>
#include <cstdio>

namespace pay::network {

namespace {

Result<double> ParsePct(std::string_view name, std::string_view v) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || p != v.data() + v.size() || !(d >= 0 && d <= 100)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "faults: " + std::string(name) + "='" + std::string(v.substr(0, 32)) +
                         "' is not a percentage between 0 and 100");
  }
  return d;
}

Result<int64_t> ParseInt(std::string_view name, std::string_view v, int64_t max) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0 || n > max) {
    return MakeError(ErrorCode::kInvalidArgument, "faults: " + std::string(name) + "='" +
                                                      std::string(v.substr(0, 32)) +
                                                      "' is not a number between 0 and " +
                                                      std::to_string(max));
  }
  return n;
}

}  // namespace

Result<FaultConfig> ParseFaultConfig(std::string_view text) {
  FaultConfig c;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "faults: '" + std::string(part.substr(0, 32)) + "' is not name=value");
    }
    std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    if (name == "drop_request") {
      PAY_ASSIGN_OR_RETURN(c.drop_request_pct, ParsePct(name, value));
    } else if (name == "drop_response") {
      PAY_ASSIGN_OR_RETURN(c.drop_response_pct, ParsePct(name, value));
    } else if (name == "duplicate") {
      PAY_ASSIGN_OR_RETURN(c.duplicate_response_pct, ParsePct(name, value));
    } else if (name == "late") {
      PAY_ASSIGN_OR_RETURN(c.late_response_pct, ParsePct(name, value));
    } else if (name == "disconnect") {
      PAY_ASSIGN_OR_RETURN(c.disconnect_pct, ParsePct(name, value));
    } else if (name == "latency") {
      size_t dash = value.find('-');
      std::string_view lo = value.substr(0, dash);
      std::string_view hi = dash == std::string_view::npos ? lo : value.substr(dash + 1);
      PAY_ASSIGN_OR_RETURN(c.latency_min_ms, ParseInt("latency", lo, 600'000));
      PAY_ASSIGN_OR_RETURN(c.latency_max_ms, ParseInt("latency", hi, 600'000));
      if (c.latency_min_ms > c.latency_max_ms) {
        return MakeError(ErrorCode::kInvalidArgument, "faults: latency: minimum above maximum");
      }
    } else if (name == "late_by") {
      PAY_ASSIGN_OR_RETURN(c.late_by_ms, ParseInt("late_by", value, 600'000));
    } else if (name == "seed") {
      PAY_ASSIGN_OR_RETURN(int64_t s, ParseInt("seed", value, INT64_MAX));
      c.seed = static_cast<uint64_t>(s);
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "faults: unknown fault '" + std::string(name.substr(0, 32)) +
                           "' (drop_request, drop_response, duplicate, late, disconnect, latency, late_by, seed)");
    }
  }
  double total = c.drop_request_pct + c.drop_response_pct + c.duplicate_response_pct +
                 c.late_response_pct + c.disconnect_pct;
  if (total > 100) {
    return MakeError(ErrorCode::kInvalidArgument, "faults: the percentages add up to more than 100");
  }
  return c;
}

std::string FaultConfigString(const FaultConfig& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "drop_request=%g,drop_response=%g,duplicate=%g,late=%g,disconnect=%g,latency=%lld-%lld,"
                "late_by=%lld,seed=%llu",
                c.drop_request_pct, c.drop_response_pct, c.duplicate_response_pct,
                c.late_response_pct, c.disconnect_pct, static_cast<long long>(c.latency_min_ms),
                static_cast<long long>(c.latency_max_ms), static_cast<long long>(c.late_by_ms),
                static_cast<unsigned long long>(c.seed));
  return buf;
}

bool FaultPlan::enabled() const {
  return config_.drop_request_pct > 0 || config_.drop_response_pct > 0 ||
         config_.duplicate_response_pct > 0 || config_.late_response_pct > 0 ||
         config_.disconnect_pct > 0 || config_.latency_max_ms > 0;
}

FaultDecision FaultPlan::Next() {
  FaultDecision d;
  if (!enabled()) return d;
  // One roll picks at most one fault; the bands are laid end to end in [0, 100).
  double roll = static_cast<double>(random_.Uniform(1'000'000)) / 10'000.0;
  const std::pair<double, Fault> bands[] = {
      {config_.disconnect_pct, Fault::kDisconnect},
      {config_.drop_request_pct, Fault::kDropRequest},
      {config_.drop_response_pct, Fault::kDropResponse},
      {config_.duplicate_response_pct, Fault::kDuplicateResponse},
      {config_.late_response_pct, Fault::kLateResponse},
  };
  double edge = 0;
  for (const auto& [pct, fault] : bands) {
    edge += pct;
    if (roll < edge) {
      d.fault = fault;
      break;
    }
  }
  d.latency_ms = config_.latency_max_ms > 0
                     ? random_.Range(config_.latency_min_ms, config_.latency_max_ms)
                     : 0;
  return d;
}

}  // namespace pay::network
