#pragma once
// The simulated card network for embedding: an issuer simulator with its own ledger (its own
// SQLite file) behind the in-process network, with optional fault injection. Hand it to
// EngineOptions::card_network. docs/network-sim.md lists the test cards and faults.
//
//   pay::SimulatorOptions sim;
//   sim.issuer_db_path = "issuer.db";
//   auto network = pay::CardNetworkSimulator::Open(sim);   // Result<std::unique_ptr<...>>
//   options.card_network = network->get();
//
// Threading: used by the engine's writer (one thread at a time), like every CardNetwork.

#include <cstdint>
#include <memory>
#include <string>

#include "pay/card_network.h"
#include "pay/clock.h"
#include "pay/result.h"

namespace pay {

struct SimulatorOptions {
  std::string issuer_db_path = "issuer.db";  // created when missing
  bool durable = true;                       // synchronous=FULL for the issuer's file
  const Clock* clock = nullptr;              // must outlive the simulator; nullptr: system clock
  // Fault plan, e.g. "drop_response=5,latency=1-20,seed=7" (docs/network-sim.md); empty: none.
  std::string faults;
  int64_t deadline_ms = 2'000;  // simulated latency beyond it counts as a timeout
};

class CardNetworkSimulator : public CardNetwork {
 public:
  static Result<std::unique_ptr<CardNetworkSimulator>> Open(const SimulatorOptions& options);
  ~CardNetworkSimulator() override = default;
  // The issuer's own books verify (conservation, balances, the audit chain).
  virtual Result<bool> IssuerVerifies() = 0;
  // Posts the deferred (not fast funds) push credits that are due. Returns how many.
  virtual Result<size_t> ReleaseDeferredCredits() = 0;
};

}  // namespace pay
