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
// No Asio type appears here (only tcp_network_server.cc and tcp_network_client.cc include it).
//
// Server limits: at most 64 connections (more are closed on accept); a connection may idle 5
// minutes between frames, and a frame once begun must arrive whole within 10 s; at most 1 MiB of
// answers may wait for a peer that does not read them. Beyond any of these, or on a frame whose
// length is 0 or above kMessageBytesMax, or a message that does not decode, the server closes
// that connection only. Nothing about a message's content is logged.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/network/faults.h"
#include "adapters/network/issuer.h"
#include "pay/card_network.h"

namespace pay::network {

class TcpNetworkServer {
 public:
  // Listens on host:port (port 0: an ephemeral port; see port()). `handler` must outlive the
  // server; it is called from the server's thread only, one call at a time. An exception thrown
  // by the handler closes the connection whose messages it was handling (handler_errors).
  static Result<std::unique_ptr<TcpNetworkServer>> Start(MessageHandler& handler,
                                                         const FaultConfig& faults,
                                                         const std::string& host, uint16_t port);
  ~TcpNetworkServer();
  uint16_t port() const;
  // Stops accepting, closes every connection and joins the thread. Idempotent.
  void Stop();
  // Blocks the calling thread until SIGINT or SIGTERM (or, when `stop` is given, until it is
  // set; it is polled every 50 ms), then stops.
  void WaitForSignal(const std::atomic<bool>* stop = nullptr);

  struct Stats {
    int64_t connections = 0;
    int64_t messages = 0;
    int64_t echoes = 0;
    int64_t malformed = 0;       // frames that closed their connection
    int64_t handler_errors = 0;  // handler exceptions (each closed its connection)
  };
  // Any thread.
  Stats stats() const;

 private:
  TcpNetworkServer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TcpClientOptions {
  int64_t deadline_ms = 2'000;  // per exchange: all answers or timeouts by then
  int64_t connect_timeout_ms = 2'000;
  int64_t echo_interval_ms = 30'000;  // idle longer than this: an echo checks the line first
};

// Exchange (and Echo) run entirely on the calling thread: they write, then read with the
// exchange's deadline; there is no background thread. Per request, Exchange returns
//   the response                   an answer with the request's STAN (and MTI and RRN) arrived
//   kNetworkTimeout                written, but no answer by the deadline (or the connection
//                                  broke after it was written): it may have been applied
//   kNetworkUnavailable            not sent: no connection (one reconnect was tried), or the
//                                  connection broke before its bytes were written
//   the encoding error             ToMessage/Encode refused it (as they said); not sent
//   kInvalidArgument               its STAN repeats one earlier in the same batch; not sent
// Before sending, whatever arrived since the last exchange (late answers, duplicates) is read
// and discarded, and a connection the server closed is noticed and reconnected once. When the
// connection has been idle longer than echo_interval_ms, an 0800 echo checks it first (a missed
// echo reconnects). Answers matching no outstanding request are discarded and counted.
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
  // Any thread (a consistent snapshot).
  Stats stats() const;

 private:
  TcpCardNetwork();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "127.0.0.1:8583" -> host and port; errors name `field`. The host is an IP address (or
// localhost); port 0 means an ephemeral port.
Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text,
                                                       std::string_view field);

// `paymentctl network-sim --listen HOST:PORT`: parses `listen` (errors name --listen), starts a
// TcpNetworkServer for `handler`, calls `on_listening` (if set) with the bound port, then blocks
// until SIGINT or SIGTERM, or until *stop_flag (if not null) becomes true; then stops the server.
// Errors: kInvalidArgument (the address), kNetworkUnavailable (cannot listen).
Result<void> RunNetworkSimulator(MessageHandler& handler, const FaultConfig& faults,
                                 const std::string& listen,
                                 std::function<void(uint16_t)> on_listening,
                                 std::atomic<bool>* stop_flag);

}  // namespace pay::network
