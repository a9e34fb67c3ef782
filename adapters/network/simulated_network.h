#pragma once
// The in-process card network: requests become ISO 8583 messages, go through the fault plan to
// the issuer simulator and back, without a socket. The default network of paymentctl and of
// replay, and what the tests and benchmarks use. Deterministic for a seed and a clock.

#include <memory>

#include "adapters/network/faults.h"
#include "adapters/network/issuer.h"
#include "pay/card_network.h"

namespace pay::network {

class SimulatedCardNetwork final : public CardNetwork {
 public:
  // `handler` (the issuer) must outlive the network.
  SimulatedCardNetwork(MessageHandler& handler, const FaultConfig& faults, int64_t deadline_ms);
  std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> requests) override;

  struct Stats {
    int64_t sent = 0;
    int64_t timeouts = 0;
    int64_t unavailable = 0;
    int64_t duplicates_ignored = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  MessageHandler& handler_;
  FaultPlan plan_;
  int64_t deadline_ms_;
  Stats stats_;
};

}  // namespace pay::network
