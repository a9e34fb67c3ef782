#include "adapters/network/simulated_network.h"

#include "adapters/network/card_messages.h"

namespace pay::network {

SimulatedCardNetwork::SimulatedCardNetwork(MessageHandler& handler, const FaultConfig& faults,
                                           int64_t deadline_ms)
    : handler_(handler), plan_(faults), deadline_ms_(deadline_ms) {}

std::vector<Result<CardResponse>> SimulatedCardNetwork::Exchange(
    std::span<const CardRequest> requests) {
  std::vector<Result<CardResponse>> out;
  out.reserve(requests.size());
  std::vector<iso8583::Message> delivered;
  std::vector<size_t> delivered_index;
  std::vector<FaultDecision> decisions;
  delivered.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    out.push_back(MakeError(ErrorCode::kNetworkTimeout, "no response"));
    auto m = ToMessage(requests[i]);
    if (!m) {
      out[i] = m.error();
      decisions.push_back({});
      continue;
    }
    // Through the wire format and back, as over TCP: the issuer sees only what the bytes say.
    auto bytes = iso8583::Encode(*m);
    auto decoded = bytes ? iso8583::Decode(*bytes) : Result<iso8583::Message>(bytes.error());
    if (!decoded) {
      out[i] = decoded.error();
      decisions.push_back({});
      continue;
    }
    FaultDecision d = plan_.Next();
    decisions.push_back(d);
    ++stats_.sent;
    if (d.fault == Fault::kDisconnect) {
      ++stats_.unavailable;
      out[i] = MakeError(ErrorCode::kNetworkUnavailable,
                         "card network: disconnected before STAN " + requests[i].stan + " was sent");
      continue;
    }
    if (d.fault == Fault::kDropRequest) continue;
    delivered.push_back(std::move(*decoded));
    delivered_index.push_back(i);
  }
  if (!delivered.empty()) {
    auto answers = handler_.Handle(delivered);
    for (size_t k = 0; k < delivered.size(); ++k) {
      const size_t i = delivered_index[k];
      const FaultDecision& d = decisions[i];
      if (k >= answers.size() || !answers[k]) continue;
      if (d.fault == Fault::kDropResponse || d.fault == Fault::kLateResponse ||
          d.latency_ms > deadline_ms_) {
        continue;  // a late response is discarded by STAN matching, as on TCP
      }
      if (d.fault == Fault::kDuplicateResponse) ++stats_.duplicates_ignored;
      auto bytes = iso8583::Encode(*answers[k]);
      auto decoded = bytes ? iso8583::Decode(*bytes) : Result<iso8583::Message>(bytes.error());
      if (!decoded || StanOf(*decoded) != requests[i].stan) continue;
      out[i] = FromResponseMessage(*decoded);
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i] && out[i].error().code == ErrorCode::kNetworkTimeout) {
      ++stats_.timeouts;
      out[i] = MakeError(ErrorCode::kNetworkTimeout,
                         "card network: no response to STAN " + requests[i].stan + " within " +
                             std::to_string(deadline_ms_) + " ms");
    }
  }
  return out;
}

}  // namespace pay::network
