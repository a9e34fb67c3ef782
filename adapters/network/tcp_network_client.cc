// The card network over TCP, the engine's side (see tcp_network.h): TcpCardNetwork. One of the
// two translation units that include Asio (the other is tcp_network_server.cc); the frame format
// both use is in tcp_network_internal.h.
//
// No thread of its own: Exchange drives a private io_context on the caller's thread until its
// deadline.

#include "adapters/network/tcp_network.h"

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>  // before Asio (Boost 1.74 with g++ 12)

#include "adapters/network/card_messages.h"
#include "adapters/network/tcp_network_internal.h"

namespace pay::network {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

using tcp_internal::Address;
using tcp_internal::Frame;
using tcp_internal::kReadChunkBytes;
using tcp_internal::TakeFrame;

constexpr size_t kStaleBytesMax = 1 << 20;  // read before an exchange, at most

}  // namespace

struct TcpCardNetwork::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  std::string host;
  uint16_t port = 0;
  TcpClientOptions options;
  bool connected = false;
  SteadyClock::time_point last_used;
  std::string in;
  std::array<char, kReadChunkBytes> chunk{};
  uint32_t echo_seq = 0;
  mutable std::mutex stats_mu;  // stats() may be called from any thread
  Stats stats;

  void Count(int64_t Stats::*field, int64_t n = 1) {
    std::lock_guard lock(stats_mu);
    stats.*field += n;
  }

  // Runs the io_context until `done` or the deadline; at the deadline cancels the socket's
  // operations and lets their handlers run. False on the deadline.
  bool Until(const bool& done, SteadyClock::time_point deadline) {
    io.restart();
    while (!done && SteadyClock::now() < deadline) {
      if (io.run_one_until(deadline) == 0 && io.stopped()) io.restart();
    }
    if (done) return true;
    boost::system::error_code ignored;
    socket.cancel(ignored);
    io.restart();
    while (!done && io.run_one() > 0) {
    }
    return false;
  }

  void Disconnect() {
    boost::system::error_code ignored;
    socket.close(ignored);
    connected = false;
    in.clear();
  }

  bool Connect() {
    Disconnect();
    auto address = Address(host, "network");
    if (!address) return false;
    bool done = false;
    boost::system::error_code ec;
    socket.async_connect(tcp::endpoint(*address, port), [&](boost::system::error_code e) {
      ec = e;
      done = true;
    });
    const auto deadline =
        SteadyClock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
    if (!Until(done, deadline) || ec) {
      Disconnect();
      return false;
    }
    socket.set_option(tcp::no_delay(true), ec);
    // Synchronous reads (DrainStale) must never block; asynchronous ones are unaffected.
    socket.non_blocking(true, ec);
    if (ec) {
      Disconnect();
      return false;
    }
    connected = true;
    last_used = SteadyClock::now();
    return true;
  }

  // Writes `bytes` by the deadline. On failure the connection is closed and *written_bytes says
  // how much the kernel took (what lies beyond it was certainly not sent).
  bool Write(const std::string& bytes, SteadyClock::time_point deadline, size_t* written_bytes) {
    bool done = false;
    boost::system::error_code ec;
    size_t n = 0;
    asio::async_write(socket, asio::buffer(bytes), [&](boost::system::error_code e, size_t k) {
      ec = e;
      n = k;
      done = true;
    });
    const bool in_time = Until(done, deadline);
    if (written_bytes != nullptr) *written_bytes = n;
    if (!in_time || ec) {
      Disconnect();
      return false;
    }
    return true;
  }

  // The next frame's bytes, or nullopt at the deadline (connection kept) or on a broken
  // connection (then disconnected).
  std::optional<std::string> ReadFrame(SteadyClock::time_point deadline) {
    std::string frame;
    for (;;) {
      const int r = TakeFrame(in, &frame);
      if (r > 0) return frame;
      if (r < 0) {
        Disconnect();
        return std::nullopt;
      }
      bool done = false;
      boost::system::error_code ec;
      size_t n = 0;
      socket.async_read_some(asio::buffer(chunk), [&](boost::system::error_code e, size_t k) {
        ec = e;
        n = k;
        done = true;
      });
      if (!Until(done, deadline)) return std::nullopt;
      if (ec) {
        Disconnect();
        return std::nullopt;
      }
      in.append(chunk.data(), n);
    }
  }

  // Reads, without waiting, what arrived since the last exchange: late answers and duplicates,
  // discarded (they came before the requests about to be sent, so they answer none of them), or
  // the server's close. False: the connection is down (and now disconnected).
  bool DrainStale() {
    size_t read_bytes = 0;
    while (read_bytes < kStaleBytesMax) {
      boost::system::error_code ec;
      const size_t n = socket.read_some(asio::buffer(chunk), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {  // eof or reset: the server closed this connection
        Disconnect();
        return false;
      }
      read_bytes += n;
      in.append(chunk.data(), n);
      std::string frame;
      for (int r; (r = TakeFrame(in, &frame)) != 0;) {
        if (r < 0) {
          Disconnect();
          return false;
        }
        Count(&Stats::discarded);
      }
    }
    return true;
  }

  bool EchoOnce() {
    const std::string stan = "9" + std::to_string(100000 + (echo_seq++ % 99999)).substr(1);
    auto bytes = iso8583::Encode(EchoRequest(stan, 0));
    if (!bytes) return false;
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(options.deadline_ms);
    if (!Write(Frame(*bytes), deadline, nullptr)) return false;
    Count(&Stats::echoes);
    while (auto frame = ReadFrame(deadline)) {
      auto m = iso8583::Decode(*frame);
      if (m && m->mti == 810 && StanOf(*m) == stan) {
        last_used = SteadyClock::now();
        return true;
      }
      Count(&Stats::discarded);
    }
    Disconnect();  // no echo answer in time: the line is not to be trusted
    return false;
  }

  // A connection fit to send on: the current one if the server has not closed it (and, when it
  // was idle, it answers an echo), else one new connection.
  bool EnsureLine() {
    if (connected && DrainStale()) {
      const bool idle =
          SteadyClock::now() - last_used > std::chrono::milliseconds(options.echo_interval_ms);
      if (!idle || EchoOnce()) return true;
    }
    Count(&Stats::reconnects);
    return Connect();
  }
};

TcpCardNetwork::TcpCardNetwork() : impl_(std::make_unique<Impl>()) {}
TcpCardNetwork::~TcpCardNetwork() { impl_->Disconnect(); }

Result<std::unique_ptr<TcpCardNetwork>> TcpCardNetwork::Connect(const std::string& host,
                                                                uint16_t port,
                                                                const TcpClientOptions& options) {
  PAY_TRY(Address(host, "network"));
  if (options.deadline_ms <= 0 || options.connect_timeout_ms <= 0 ||
      options.echo_interval_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "network: deadlines must be positive");
  }
  std::unique_ptr<TcpCardNetwork> net(new TcpCardNetwork());
  net->impl_->host = host;
  net->impl_->port = port;
  net->impl_->options = options;
  if (!net->impl_->Connect()) {
    return MakeError(ErrorCode::kNetworkUnavailable,
                     "network: cannot connect to " + host + ":" + std::to_string(port));
  }
  return net;
}

Result<void> TcpCardNetwork::Echo() {
  Impl& impl = *impl_;
  if (!(impl.connected && impl.DrainStale()) && !impl.Connect()) {
    return MakeError(ErrorCode::kNetworkUnavailable,
                     "network: not connected to " + impl.host + ":" + std::to_string(impl.port));
  }
  if (!impl.EchoOnce()) {
    return MakeError(ErrorCode::kNetworkTimeout, "network: no answer to the echo (0800)");
  }
  return {};
}

std::vector<Result<CardResponse>> TcpCardNetwork::Exchange(std::span<const CardRequest> requests) {
  Impl& impl = *impl_;
  struct Outstanding {
    size_t index = 0;         // into requests
    size_t frame_offset = 0;  // where its frame starts in `frames`
    int response_mti = 0;
    std::string rrn;  // DE 37 as sent (empty: not checked)
  };
  std::vector<Result<CardResponse>> out;
  out.reserve(requests.size());
  std::unordered_map<std::string, Outstanding> outstanding;  // by STAN
  std::string frames;
  for (size_t i = 0; i < requests.size(); ++i) {
    out.push_back(MakeError(ErrorCode::kNetworkTimeout, ""));
    auto m = ToMessage(requests[i]);
    auto bytes = m ? iso8583::Encode(*m) : Result<std::string>(m.error());
    if (!bytes) {
      out[i] = bytes.error();
      continue;
    }
    const std::string stan = StanOf(*m);
    Outstanding o{i, frames.size(), iso8583::ResponseMti(m->mti),
                  m->Has(iso8583::de::kRrn) ? m->Get(iso8583::de::kRrn) : std::string()};
    if (!outstanding.emplace(stan, std::move(o)).second) {
      out[i] = MakeError(ErrorCode::kInvalidArgument,
                         "stan: " + stan + " is used twice in one exchange");
      continue;
    }
    frames += Frame(*bytes);
  }
  if (outstanding.empty()) return out;
  const std::string where = impl.host + ":" + std::to_string(impl.port);
  if (!impl.EnsureLine()) {
    for (const auto& [stan, o] : outstanding) {
      out[o.index] =
          MakeError(ErrorCode::kNetworkUnavailable,
                    "card network: not connected to " + where + "; STAN " + stan + " was not sent");
    }
    return out;
  }
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(impl.options.deadline_ms);
  size_t written_bytes = 0;
  if (!impl.Write(frames, deadline, &written_bytes)) {
    // What the kernel took may have reached the issuer and been applied: in doubt. The rest was
    // certainly not sent. No resend here: the caller decides (it knows which is which).
    int64_t sent = 0;
    for (const auto& [stan, o] : outstanding) {
      if (o.frame_offset < written_bytes) {
        ++sent;
        out[o.index] =
            MakeError(ErrorCode::kNetworkTimeout, "card network: the connection to " + where +
                                                      " broke after STAN " + stan + " was sent");
      } else {
        out[o.index] = MakeError(ErrorCode::kNetworkUnavailable,
                                 "card network: the connection to " + where +
                                     " broke before STAN " + stan + " was sent");
      }
    }
    impl.Count(&Stats::sent, sent);
    impl.Count(&Stats::timeouts, sent);
    return out;
  }
  impl.Count(&Stats::sent, static_cast<int64_t>(outstanding.size()));
  while (!outstanding.empty()) {
    auto frame = impl.ReadFrame(deadline);
    if (!frame) break;  // the deadline, or the connection broke (the rest are in doubt)
    auto m = iso8583::Decode(*frame);
    auto it = m ? outstanding.find(StanOf(*m)) : outstanding.end();
    if (it == outstanding.end() || m->mti != it->second.response_mti ||
        (!it->second.rrn.empty() && m->Has(iso8583::de::kRrn) &&
         m->Get(iso8583::de::kRrn) != it->second.rrn)) {
      impl.Count(&Stats::discarded);  // a duplicate, a late answer to an earlier exchange, ...
      continue;
    }
    out[it->second.index] = FromResponseMessage(*m);
    outstanding.erase(it);
  }
  impl.last_used = SteadyClock::now();
  for (const auto& [stan, o] : outstanding) {
    out[o.index] = MakeError(ErrorCode::kNetworkTimeout,
                             "card network: no response to STAN " + stan + " within " +
                                 std::to_string(impl.options.deadline_ms) + " ms");
  }
  impl.Count(&Stats::timeouts, static_cast<int64_t>(outstanding.size()));
  return out;
}

TcpCardNetwork::Stats TcpCardNetwork::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace pay::network
