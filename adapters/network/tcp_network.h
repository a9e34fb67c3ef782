#pragma once
// The card network over TCP: ISO 8583 messages in frames of a 2-byte big-endian length followed
// by the message bytes (at most iso8583::kMessageBytesMax).
//
// - TcpNetworkServer: the network simulator's listening side (`paymentctl network-sim`). It
//   answers 0800 echoes itself and hands every other message to its MessageHandler (the issuer
//   simulator), one at a time on its own thread, applying the fault plan with real delays.
// - TcpCardNetwork: the engine's CardNetwork over one connection, with a deadline per exchange,
//   responses matched by STAN (duplicates and late answers are discarded), one reconnect when
//   the connection dropped, and an 0800 echo before use when the connection was idle.
// No Asio type appears here (one translation unit includes Asio).

#include <cstdint>
#include <memory>
#include <string>

#include "adapters/network/faults.h"
#include "adapters/network/issuer.h"
#include "pay/card_network.h"

namespace pay::network {

class TcpNetworkServer {
 public:
  // Listens on host:port (port 0: an ephemeral port; see port()). `handler` must outlive the
  // server; it is called from the server's thread only.
  static Result<std::unique_ptr<TcpNetworkServer>> Start(MessageHandler& handler,
                                                         const FaultConfig& faults,
                                                         const std::string& host, uint16_t port);
  ~TcpNetworkServer();
  uint16_t port() const;
  // Stops accepting, closes every connection and joins the thread. Idempotent.
  void Stop();
  // Blocks the calling thread until SIGINT or SIGTERM, then stops.
  void WaitForSignal();

  struct Stats {
    int64_t connections = 0;
    int64_t messages = 0;
    int64_t echoes = 0;
    int64_t malformed = 0;  // frames that closed their connection
  };
  Stats stats() const;

 private:
  TcpNetworkServer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TcpClientOptions {
  int64_t deadline_ms = 2'000;          // per exchange: all answers or timeouts by then
  int64_t connect_timeout_ms = 2'000;
  int64_t echo_interval_ms = 30'000;    // idle longer than this: an echo checks the line first
};

class TcpCardNetwork final : public CardNetwork {
 public:
  static Result<std::unique_ptr<TcpCardNetwork>> Connect(const std::string& host, uint16_t port,
                                                         const TcpClientOptions& options);
  ~TcpCardNetwork() override;
  std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> requests) override;
  // Sends an 0800 echo and waits for its 0810 (within the deadline).
  Result<void> Echo();

  struct Stats {
    int64_t sent = 0;
    int64_t timeouts = 0;
    int64_t discarded = 0;  // answers for no outstanding STAN: duplicates, late ones
    int64_t reconnects = 0;
    int64_t echoes = 0;
  };
  Stats stats() const;

 private:
  TcpCardNetwork();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "127.0.0.1:8583" -> host and port; errors name `field`.
Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text, std::string_view field);

}  // namespace pay::network
