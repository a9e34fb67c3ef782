// The card network over TCP (see tcp_network.h). The only translation unit that includes Asio.

#include <utility>  // before Asio (Boost 1.74 with g++ 12)

#include "adapters/network/tcp_network.h"

#include <atomic>
#include <boost/asio.hpp>
#include <charconv>
#include <chrono>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "adapters/network/card_messages.h"

namespace pay::network {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kConnectionsMax = 64;
constexpr int64_t kIdleTimeoutMs = 5 * 60 * 1000;
constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr size_t kFramesPerBatchMax = 4096;

std::string Frame(const std::string& bytes) {
  std::string f;
  f.reserve(bytes.size() + 2);
  f.push_back(static_cast<char>((bytes.size() >> 8) & 0xff));
  f.push_back(static_cast<char>(bytes.size() & 0xff));
  f += bytes;
  return f;
}

// Takes one complete frame off the front of `buf`. 0: need more bytes; -1: malformed length.
int TakeFrame(std::string& buf, std::string* out) {
  if (buf.size() < 2) return 0;
  const size_t len = (static_cast<uint8_t>(buf[0]) << 8) | static_cast<uint8_t>(buf[1]);
  if (len == 0 || len > iso8583::kMessageBytesMax) return -1;
  if (buf.size() < 2 + len) return 0;
  out->assign(buf, 2, len);
  buf.erase(0, 2 + len);
  return 1;
}

Result<asio::ip::address> Address(const std::string& host, std::string_view field) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + ": '" + host + "' is not an IP address");
  }
  return a;
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text, std::string_view field) {
  const size_t colon = text.rfind(':');
  int port = -1;
  if (colon == std::string_view::npos || colon == 0 ||
      std::from_chars(text.data() + colon + 1, text.data() + text.size(), port).ec != std::errc() ||
      port < 0 || port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + ": '" + std::string(text.substr(0, 64)) +
                         "' is not HOST:PORT (e.g. 127.0.0.1:8583; port 0 picks a free one)");
  }
  std::string host(text.substr(0, colon));
  PAY_TRY(Address(host, field));
  return std::pair<std::string, uint16_t>(host, static_cast<uint16_t>(port));
}

// ---- server -----------------------------------------------------------------------------------

struct TcpNetworkServer::Impl {
  class Session;

  asio::io_context io;
  tcp::acceptor acceptor{io};
  MessageHandler* handler = nullptr;
  std::unique_ptr<FaultPlan> plan;  // the io thread only
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
        : server_(server), socket_(std::move(socket)), idle_(server.io) {}

    void Start() { Read(); }

    void Close() {
      if (closed_) return;
      closed_ = true;
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
      idle_.cancel();
      for (auto& t : timers_) t->cancel();
      server_.sessions.erase(shared_from_this());
    }

   private:
    void Read() {
      if (closed_) return;
      idle_.expires_after(std::chrono::milliseconds(kIdleTimeoutMs));
      idle_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->Close();
      });
      socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](
                                                        boost::system::error_code ec, size_t n) {
        if (ec) return self->Close();
        self->in_.append(self->chunk_.data(), n);
        self->OnBytes();
      });
    }

    void OnBytes() {
      // Every complete frame read so far is served as one batch (one issuer transaction).
      std::vector<iso8583::Message> batch;
      std::vector<FaultDecision> decisions;
      std::string bytes;
      for (;;) {
        int r = TakeFrame(in_, &bytes);
        if (r == 0) break;
        auto m = r > 0 ? iso8583::Decode(bytes) : Result<iso8583::Message>(MakeError(ErrorCode::kInvalidArgument, "frame"));
        if (!m) {
          // A malformed frame: this connection's framing cannot be trusted any more.
          server_.Count(&Stats::malformed);
          Serve(batch, decisions);
          return Close();
        }
        if (IsEcho(*m)) {
          server_.Count(&Stats::echoes);
          Send(EchoResponse(*m), 0);
          continue;
        }
        FaultDecision d = server_.plan->Next();
        if (d.fault == Fault::kDisconnect) {
          Serve(batch, decisions);
          return Close();
        }
        if (d.fault == Fault::kDropRequest) continue;
        batch.push_back(std::move(*m));
        decisions.push_back(d);
        if (batch.size() >= kFramesPerBatchMax) Serve(batch, decisions);
      }
      Serve(batch, decisions);
      Read();
    }

    void Serve(std::vector<iso8583::Message>& batch, std::vector<FaultDecision>& decisions) {
      if (batch.empty()) return;
      server_.Count(&Stats::messages, static_cast<int64_t>(batch.size()));
      auto answers = server_.handler->Handle(batch);
      for (size_t i = 0; i < batch.size() && i < answers.size(); ++i) {
        if (!answers[i] || decisions[i].fault == Fault::kDropResponse) continue;
        int64_t delay = decisions[i].latency_ms;
        if (decisions[i].fault == Fault::kLateResponse) delay += server_.plan->config().late_by_ms;
        Send(*answers[i], delay);
        if (decisions[i].fault == Fault::kDuplicateResponse) Send(*answers[i], delay);
      }
      batch.clear();
      decisions.clear();
    }

    void Send(const iso8583::Message& m, int64_t delay_ms) {
      auto bytes = iso8583::Encode(m);
      if (!bytes) return;
      std::string frame = Frame(*bytes);
      if (delay_ms <= 0) return Queue(std::move(frame));
      auto timer = std::make_shared<asio::steady_timer>(server_.io, std::chrono::milliseconds(delay_ms));
      timers_.insert(timer);
      timer->async_wait([self = shared_from_this(), timer, frame = std::move(frame)](
                            boost::system::error_code ec) mutable {
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
                          self->writes_.pop_front();
                          if (!self->writes_.empty()) self->WriteNext();
                        });
    }

    Impl& server_;
    tcp::socket socket_;
    asio::steady_timer idle_;
    std::array<char, kReadChunkBytes> chunk_{};
    std::string in_;
    std::deque<std::string> writes_;
    std::set<std::shared_ptr<asio::steady_timer>> timers_;
    bool closed_ = false;
  };

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        return Accept();
      }
      if (sessions.size() >= kConnectionsMax) {
        boost::system::error_code ignored;
        socket.close(ignored);  // bounded: refuse beyond the limit
        return Accept();
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      Count(&Stats::connections);
      auto s = std::make_shared<Session>(*this, std::move(socket));
      sessions.insert(s);
      s->Start();
      Accept();
    });
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
  if (ec) {
    return MakeError(ErrorCode::kNetworkUnavailable,
                     "listen: cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  impl.port = impl.acceptor.local_endpoint(ec).port();
  impl.Accept();
  impl.thread = std::thread([&impl] { impl.io.run(); });
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

void TcpNetworkServer::WaitForSignal() {
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([](boost::system::error_code, int) {});
  signals_io.run();
  Stop();
}

TcpNetworkServer::Stats TcpNetworkServer::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->stats;
}

// ---- client -----------------------------------------------------------------------------------

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
  Stats stats;

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
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
    if (!Until(done, deadline) || ec) {
      Disconnect();
      return false;
    }
    socket.set_option(tcp::no_delay(true), ec);
    connected = true;
    last_used = SteadyClock::now();
    return true;
  }

  bool Write(const std::string& bytes, SteadyClock::time_point deadline) {
    bool done = false;
    boost::system::error_code ec;
    asio::async_write(socket, asio::buffer(bytes), [&](boost::system::error_code e, size_t) {
      ec = e;
      done = true;
    });
    if (!Until(done, deadline) || ec) {
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
      int r = TakeFrame(in, &frame);
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

  bool EchoOnce() {
    const std::string stan = "9" + std::to_string(100000 + (echo_seq++ % 99999)).substr(1);
    auto bytes = iso8583::Encode(EchoRequest(stan, 0));
    if (!bytes) return false;
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(options.deadline_ms);
    if (!Write(Frame(*bytes), deadline)) return false;
    ++stats.echoes;
    while (auto frame = ReadFrame(deadline)) {
      auto m = iso8583::Decode(*frame);
      if (m && m->mti == 810 && StanOf(*m) == stan) {
        last_used = SteadyClock::now();
        return true;
      }
      ++stats.discarded;
    }
    Disconnect();  // no echo answer in time: the line is not to be trusted
    return false;
  }

  bool EnsureLine() {
    const bool idle = SteadyClock::now() - last_used > std::chrono::milliseconds(options.echo_interval_ms);
    if (connected && (!idle || EchoOnce())) return true;
    ++stats.reconnects;
    return Connect();
  }
};

TcpCardNetwork::TcpCardNetwork() : impl_(std::make_unique<Impl>()) {}
TcpCardNetwork::~TcpCardNetwork() { impl_->Disconnect(); }

Result<std::unique_ptr<TcpCardNetwork>> TcpCardNetwork::Connect(const std::string& host,
                                                                uint16_t port,
                                                                const TcpClientOptions& options) {
  PAY_TRY(Address(host, "network"));
  if (options.deadline_ms <= 0 || options.connect_timeout_ms <= 0 || options.echo_interval_ms <= 0) {
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
  if (!impl_->connected && !impl_->Connect()) {
    return MakeError(ErrorCode::kNetworkUnavailable, "network: not connected");
  }
  if (!impl_->EchoOnce()) {
    return MakeError(ErrorCode::kNetworkTimeout, "network: no answer to the echo (0800)");
  }
  return {};
}

std::vector<Result<CardResponse>> TcpCardNetwork::Exchange(std::span<const CardRequest> requests) {
  Impl& impl = *impl_;
  std::vector<Result<CardResponse>> out;
  out.reserve(requests.size());
  std::unordered_map<std::string, size_t> outstanding;  // STAN -> request
  std::string frames;
  for (size_t i = 0; i < requests.size(); ++i) {
    out.push_back(MakeError(ErrorCode::kNetworkTimeout, ""));
    auto m = ToMessage(requests[i]);
    auto bytes = m ? iso8583::Encode(*m) : Result<std::string>(m.error());
    if (!bytes) {
      out[i] = bytes.error();
      continue;
    }
    if (!outstanding.emplace(requests[i].stan, i).second) {
      out[i] = MakeError(ErrorCode::kInvalidArgument, "STAN " + requests[i].stan + " is used twice in one exchange");
      continue;
    }
    frames += Frame(*bytes);
  }
  if (outstanding.empty()) return out;
  auto fail_all = [&](ErrorCode code, const std::string& why) {
    for (const auto& [stan, i] : outstanding) out[i] = MakeError(code, "card network: " + why + " (STAN " + stan + ")");
    if (code == ErrorCode::kNetworkTimeout) impl.stats.timeouts += static_cast<int64_t>(outstanding.size());
    return out;
  };
  if (!impl.EnsureLine()) return fail_all(ErrorCode::kNetworkUnavailable, "not connected to " + impl.host + ":" + std::to_string(impl.port));
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(impl.options.deadline_ms);
  if (!impl.Write(frames, deadline)) {
    // Some of it may have been delivered and applied; the issuer answers a retransmission
    // (same RRN and STAN) from its record, so one resend on a new connection is safe.
    ++impl.stats.reconnects;
    if (!impl.Connect() || !impl.Write(frames, deadline)) {
      return fail_all(ErrorCode::kNetworkTimeout, "the connection broke while sending");
    }
  }
  impl.stats.sent += static_cast<int64_t>(outstanding.size());
  while (!outstanding.empty()) {
    auto frame = impl.ReadFrame(deadline);
    if (!frame) break;
    auto m = iso8583::Decode(*frame);
    auto it = m ? outstanding.find(StanOf(*m)) : outstanding.end();
    if (it == outstanding.end() || m->mti == 810) {
      ++impl.stats.discarded;  // a duplicate, a late answer to an earlier exchange, an echo
      continue;
    }
    out[it->second] = FromResponseMessage(*m);
    outstanding.erase(it);
  }
  impl.last_used = SteadyClock::now();
  return fail_all(ErrorCode::kNetworkTimeout,
                  "no response within " + std::to_string(impl.options.deadline_ms) + " ms");
}

TcpCardNetwork::Stats TcpCardNetwork::stats() const { return impl_->stats; }

}  // namespace pay::network
