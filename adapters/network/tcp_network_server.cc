// The card network over TCP, the network simulator's side (see tcp_network.h): TcpNetworkServer,
// RunNetworkSimulator and ParseHostPort. One of the two translation units that include Asio (the
// other is tcp_network_client.cc); the frame format both use is in tcp_network_internal.h.
//
// One io thread owns the acceptor, every Session, the fault plan and the calls into the
// MessageHandler, so nothing here needs a lock except the stats.

#include "adapters/network/tcp_network.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
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

constexpr size_t kConnectionsMax = 64;             // more are closed on accept
constexpr int64_t kIdleTimeoutMs = 5 * 60 * 1000;  // between frames
constexpr int64_t kFrameReadTimeoutMs = 10'000;    // a begun frame must complete
constexpr size_t kQueuedBytesMax = 1 << 20;        // answers a peer has not read
constexpr size_t kFramesPerBatchMax = 4096;        // messages per handler call
constexpr int64_t kStopPollMs = 50;                // RunNetworkSimulator's stop flag

// Blocks until SIGINT/SIGTERM or *stop (polled) becomes true.
void BlockUntilStopped(const std::atomic<bool>* stop) {
  if (stop != nullptr && stop->load()) return;
  asio::io_context wait_io;
  asio::signal_set signals(wait_io);
  boost::system::error_code ignored;
  signals.add(SIGINT, ignored);
  signals.add(SIGTERM, ignored);
  signals.async_wait([&wait_io](boost::system::error_code ec, int) {
    if (!ec) wait_io.stop();
  });
  asio::steady_timer poll(wait_io);
  std::function<void()> arm = [&] {
    poll.expires_after(std::chrono::milliseconds(kStopPollMs));
    poll.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (stop->load()) return wait_io.stop();
      arm();
    });
  };
  if (stop != nullptr) arm();
  wait_io.run();
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text,
                                                       std::string_view field) {
  const size_t colon = text.rfind(':');
  int port = -1;
  const char* end = text.data() + text.size();
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size() ||
      std::from_chars(text.data() + colon + 1, end, port).ptr != end || port < 0 || port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + ": '" + std::string(text.substr(0, 64)) +
                         "' is not HOST:PORT (e.g. 127.0.0.1:8583; port 0 picks a free one)");
  }
  std::string host(text.substr(0, colon));
  PAY_TRY(Address(host, field));
  return std::pair<std::string, uint16_t>(host, static_cast<uint16_t>(port));
}

struct TcpNetworkServer::Impl {
  class Session;

  asio::io_context io;
  tcp::acceptor acceptor{io};
  MessageHandler* handler = nullptr;
  std::unique_ptr<FaultPlan> plan;              // the io thread only
  std::set<std::shared_ptr<Session>> sessions;  // the io thread only
  std::thread thread;
  std::atomic<bool> stopped{false};
  uint16_t port = 0;
  mutable std::mutex stats_mu;
  Stats stats;

  void Count(int64_t Stats::*field, int64_t n = 1) {
    std::lock_guard lock(stats_mu);
    stats.*field += n;
  }

  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Impl& server, tcp::socket socket)
        : server_(server), socket_(std::move(socket)), deadline_(server.io) {}

    void Start() { Read(true); }

    void Close() {
      if (closed_) return;
      closed_ = true;
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
      deadline_.cancel();
      for (auto& t : timers_) t->cancel();
      server_.sessions.erase(shared_from_this());
    }

   private:
    // Arms the read deadline: the idle timeout between frames; once a frame has begun, the frame
    // timeout from its first byte (re-armed only when a frame completes, so a peer trickling
    // bytes cannot hold the connection open).
    void Read(bool frame_completed) {
      if (closed_) return;
      if (in_.empty()) {
        in_frame_ = false;
        ArmDeadline(kIdleTimeoutMs);
      } else if (frame_completed || !in_frame_) {
        in_frame_ = true;
        ArmDeadline(kFrameReadTimeoutMs);
      }
      socket_.async_read_some(asio::buffer(chunk_),
                              [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                                if (ec) return self->Close();
                                self->in_.append(self->chunk_.data(), n);
                                self->OnBytes();
                              });
    }

    void ArmDeadline(int64_t timeout_ms) {
      deadline_.expires_after(std::chrono::milliseconds(timeout_ms));
      deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        // A wait that completed just before it was re-armed still sees the new expiry.
        if (!ec && self->deadline_.expiry() <= SteadyClock::now()) self->Close();
      });
    }

    void OnBytes() {
      // Every complete frame read so far is served as one batch (one issuer transaction).
      std::vector<iso8583::Message> batch;
      std::vector<FaultDecision> decisions;
      std::string bytes;
      bool completed = false;
      for (;;) {
        const int r = TakeFrame(in_, &bytes);
        if (r == 0) break;
        completed = true;
        auto m = r > 0 ? iso8583::Decode(bytes)
                       : Result<iso8583::Message>(MakeError(ErrorCode::kInvalidArgument, "frame"));
        if (!m) {
          // A malformed frame: this connection's framing cannot be trusted any more. What came
          // before it is still served; nothing of the bytes is logged (they may hold a PAN).
          server_.Count(&Stats::malformed);
          Serve(batch, decisions);
          return Close();
        }
        if (IsEcho(*m)) {
          server_.Count(&Stats::echoes);
          Send(EchoResponse(*m), 0);
          if (closed_) return;
          continue;
        }
        const FaultDecision d = server_.plan->Next();
        if (d.fault == Fault::kDisconnect) {
          Serve(batch, decisions);
          return Close();
        }
        if (d.fault == Fault::kDropRequest) continue;
        batch.push_back(std::move(*m));
        decisions.push_back(d);
        if (batch.size() >= kFramesPerBatchMax) Serve(batch, decisions);
        if (closed_) return;
      }
      Serve(batch, decisions);
      Read(completed);
    }

    void Serve(std::vector<iso8583::Message>& batch, std::vector<FaultDecision>& decisions) {
      if (batch.empty() || closed_) return;
      server_.Count(&Stats::messages, static_cast<int64_t>(batch.size()));
      std::vector<std::optional<iso8583::Message>> answers;
      try {
        answers = server_.handler->Handle(batch);
      } catch (const std::exception&) {
        // Exceptions stop at this edge. Whether the batch was applied is unknown; the client
        // sees timeouts for it. (Its text is not logged: it might quote a message.)
        server_.Count(&Stats::handler_errors);
        std::fprintf(stderr, "network-sim: the message handler failed; connection closed\n");
        return Close();
      }
      for (size_t i = 0; i < batch.size() && i < answers.size() && !closed_; ++i) {
        if (!answers[i] || decisions[i].fault == Fault::kDropResponse) continue;
        int64_t delay_ms = decisions[i].latency_ms;
        if (decisions[i].fault == Fault::kLateResponse) {
          delay_ms += server_.plan->config().late_by_ms;
        }
        Send(*answers[i], delay_ms);
        if (decisions[i].fault == Fault::kDuplicateResponse) Send(*answers[i], delay_ms);
      }
      batch.clear();
      decisions.clear();
    }

    // Queues an answer, now or after delay_ms. A peer that lets kQueuedBytesMax of answers pile
    // up is not reading them: its connection is closed.
    void Send(const iso8583::Message& m, int64_t delay_ms) {
      auto bytes = iso8583::Encode(m);
      if (!bytes) return;
      std::string frame = Frame(*bytes);
      if (queued_bytes_ + frame.size() > kQueuedBytesMax) return Close();
      queued_bytes_ += frame.size();
      if (delay_ms <= 0) return Queue(std::move(frame));
      auto timer =
          std::make_shared<asio::steady_timer>(server_.io, std::chrono::milliseconds(delay_ms));
      timers_.insert(timer);
      timer->async_wait([self = shared_from_this(), timer,
                         frame = std::move(frame)](boost::system::error_code ec) mutable {
        self->timers_.erase(timer);
        if (!ec && !self->closed_) self->Queue(std::move(frame));
      });
    }

    void Queue(std::string frame) {
      writes_.push_back(std::move(frame));
      if (writes_.size() == 1) WriteNext();
    }

    void WriteNext() {
      asio::async_write(socket_, asio::buffer(writes_.front()),
                        [self = shared_from_this()](boost::system::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->queued_bytes_ -= self->writes_.front().size();
                          self->writes_.pop_front();
                          if (!self->writes_.empty()) self->WriteNext();
                        });
    }

    Impl& server_;
    tcp::socket socket_;
    asio::steady_timer deadline_;
    std::array<char, kReadChunkBytes> chunk_{};
    std::string in_;
    bool in_frame_ = false;
    std::deque<std::string> writes_;
    size_t queued_bytes_ = 0;  // in writes_ and waiting in timers_
    std::set<std::shared_ptr<asio::steady_timer>> timers_;
    bool closed_ = false;
  };

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        return Accept();
      }
      boost::system::error_code ignored;
      if (sessions.size() >= kConnectionsMax) {
        socket.close(ignored);  // bounded: refuse beyond the limit
        return Accept();
      }
      socket.set_option(tcp::no_delay(true), ignored);
      Count(&Stats::connections);
      auto s = std::make_shared<Session>(*this, std::move(socket));
      sessions.insert(s);
      s->Start();
      Accept();
    });
  }

  void Run() {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception&) {
        // Every handler catches its own; this is the last edge (e.g. std::bad_alloc).
        std::fprintf(stderr, "network-sim: an exception escaped a connection handler\n");
      }
    }
  }
};

TcpNetworkServer::TcpNetworkServer() : impl_(std::make_unique<Impl>()) {}
TcpNetworkServer::~TcpNetworkServer() { Stop(); }

Result<std::unique_ptr<TcpNetworkServer>> TcpNetworkServer::Start(MessageHandler& handler,
                                                                  const FaultConfig& faults,
                                                                  const std::string& host,
                                                                  uint16_t port) {
  PAY_ASSIGN_OR_RETURN(asio::ip::address address, Address(host, "listen"));
  std::unique_ptr<TcpNetworkServer> server(new TcpNetworkServer());
  Impl& impl = *server->impl_;
  impl.handler = &handler;
  impl.plan = std::make_unique<FaultPlan>(faults);
  boost::system::error_code ec;
  tcp::endpoint endpoint(address, port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) impl.port = impl.acceptor.local_endpoint(ec).port();
  if (ec) {
    return MakeError(
        ErrorCode::kNetworkUnavailable,
        "listen: cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  impl.Accept();
  try {
    impl.thread = std::thread([&impl] { impl.Run(); });
  } catch (const std::system_error& e) {
    return MakeError(ErrorCode::kInternal,
                     std::string("listen: cannot start a thread: ") + e.what());
  }
  return server;
}

uint16_t TcpNetworkServer::port() const { return impl_->port; }

void TcpNetworkServer::Stop() {
  Impl& impl = *impl_;
  if (impl.stopped.exchange(true)) return;
  asio::post(impl.io, [&impl] {
    boost::system::error_code ignored;
    impl.acceptor.close(ignored);
    auto sessions = impl.sessions;  // Close() erases from the set
    for (auto& s : sessions) s->Close();
    impl.io.stop();
  });
  if (impl.thread.joinable()) impl.thread.join();
}

void TcpNetworkServer::WaitForSignal(const std::atomic<bool>* stop) {
  BlockUntilStopped(stop);
  Stop();
}

TcpNetworkServer::Stats TcpNetworkServer::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->stats;
}

Result<void> RunNetworkSimulator(MessageHandler& handler, const FaultConfig& faults,
                                 const std::string& listen,
                                 std::function<void(uint16_t)> on_listening,
                                 std::atomic<bool>* stop_flag) {
  PAY_ASSIGN_OR_RETURN(auto where, ParseHostPort(listen, "--listen"));
  auto started = TcpNetworkServer::Start(handler, faults, where.first, where.second);
  if (!started) {
    Error e = started.error();
    if (e.message.rfind("listen:", 0) == 0) e.message = "--" + e.message;
    return e;
  }
  std::unique_ptr<TcpNetworkServer> server = std::move(*started);
  if (on_listening) on_listening(server->port());
  server->WaitForSignal(stop_flag);
  return {};
}

}  // namespace pay::network
