#pragma once
// The network side of paymentd: the listening socket (TLS when configured), the accept loop,
// the I/O threads that run every session, and the signal wait. No Asio type appears here.
//
// Bounded: beyond options.connections_max open connections (lowered to what the open-file limit
// holds, after raising the soft limit to the hard one) a new one is closed at once. Out of
// descriptors all the same, the accept loop closes one pending connection with a reserve
// descriptor and pauses, instead of spinning.

#include <atomic>
#include <cstdint>
#include <memory>

#include "adapters/server/session_context.h"

namespace pay::server {

class Listener {
 public:
  // Binds options.host:port, then accepts on options.threads I/O threads until StopAccepting().
  // `context` must outlive the listener.
  static Result<std::unique_ptr<Listener>> Start(SessionContext& context);
  ~Listener();  // Join()

  uint16_t port() const;
  bool tls() const;
  size_t connections_max() const;  // in effect
  // Closes the listening socket; open sessions end after their current answer.
  void StopAccepting();
  // Lets the I/O threads finish and joins them. Call after every answer left (or gave up).
  void Join();
  // Blocks until SIGINT or SIGTERM, or until `stop` is set (polled every 50 ms).
  static void WaitForSignal(const std::atomic<bool>* stop);

 private:
  struct Impl;
  explicit Listener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pay::server
