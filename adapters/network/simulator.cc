// pay::CardNetworkSimulator (include/pay/simulator.h): the issuer simulator and the in-process
// network behind the public header.

#include "pay/simulator.h"

#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"

namespace pay {

namespace {

class Simulator final : public CardNetworkSimulator {
 public:
  std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> requests) override {
    return network_->Exchange(requests);
  }
  Result<bool> IssuerVerifies() override {
    PAY_ASSIGN_OR_RETURN(ledger::VerifyReport r, issuer_->Verify());
    return r.ok();
  }
  Result<size_t> ReleaseDeferredCredits() override { return issuer_->ReleaseDeferred(); }

  std::unique_ptr<SystemClock> owned_clock_;
  std::unique_ptr<network::Issuer> issuer_;
  std::unique_ptr<network::SimulatedCardNetwork> network_;
};

}  // namespace

Result<std::unique_ptr<CardNetworkSimulator>> CardNetworkSimulator::Open(const SimulatorOptions& o) {
  auto sim = std::make_unique<Simulator>();
  const Clock* clock = o.clock;
  if (clock == nullptr) {
    sim->owned_clock_ = std::make_unique<SystemClock>();
    clock = sim->owned_clock_.get();
  }
  network::FaultConfig faults;
  if (!o.faults.empty()) {
    PAY_ASSIGN_OR_RETURN(faults, network::ParseFaultConfig(o.faults));
  }
  network::IssuerOptions io;
  io.db_path = o.issuer_db_path;
  io.durable = o.durable;
  io.clock = clock;
  PAY_ASSIGN_OR_RETURN(sim->issuer_, network::Issuer::Open(io));
  sim->network_ = std::make_unique<network::SimulatedCardNetwork>(*sim->issuer_, faults, o.deadline_ms);
  return std::unique_ptr<CardNetworkSimulator>(std::move(sim));
}

}  // namespace pay
