#pragma once
// Fault injection for the simulated card network: what can go wrong between the acquirer and the
// issuer, decided per message from a seeded Random so that a run is reproducible.
//
// The same plan drives the in-process network (where latency is simulated: a response whose
// latency exceeds the deadline counts as late) and the TCP simulator (where latency is real).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/random.h"
#include "pay/result.h"

namespace pay::network {

struct FaultConfig {
  // Probabilities in percent (0-100) per message.
  double drop_request_pct = 0;       // the issuer never sees the request
  double drop_response_pct = 0;      // the issuer applies it; the response is lost
  double duplicate_response_pct = 0; // the response arrives twice (the second must be ignored)
  double late_response_pct = 0;      // the response arrives after the deadline
  double disconnect_pct = 0;         // the connection drops before the request is sent
  // Latency of a response: uniform in [latency_min_ms, latency_max_ms].
  int64_t latency_min_ms = 0;
  int64_t latency_max_ms = 0;
  // TCP simulator: how much later than its latency a late response is sent.
  int64_t late_by_ms = 3'000;
  uint64_t seed = 1;
};

// Parses "drop_request=5,drop_response=2,duplicate=1,late=1,disconnect=0.5,latency=1-20,
// late_by=3000,seed=7"
// (every part optional; percentages 0-100). Errors name the part.
Result<FaultConfig> ParseFaultConfig(std::string_view text);
std::string FaultConfigString(const FaultConfig& config);

enum class Fault : uint8_t { kNone, kDropRequest, kDropResponse, kDuplicateResponse, kLateResponse, kDisconnect };

struct FaultDecision {
  Fault fault = Fault::kNone;
  int64_t latency_ms = 0;
};

class FaultPlan {
 public:
  explicit FaultPlan(const FaultConfig& config) : config_(config), random_(config.seed) {}
  FaultDecision Next();
  const FaultConfig& config() const { return config_; }
  bool enabled() const;

 private:
  FaultConfig config_;
  Random random_;
};

}  // namespace pay::network
