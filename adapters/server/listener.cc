#include <utility>  // before Asio (Boost 1.74 with g++ 12)

#include "adapters/server/listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "adapters/server/session.h"

namespace pay::server {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// Descriptors kept for what is not a connection: the databases and their WALs, the listener,
// the reserve below, standard streams, logs.
constexpr size_t kDescriptorsReserved = 64;
// How long the accept loop pauses when the process is out of descriptors.
constexpr auto kOutOfDescriptorsPause = std::chrono::milliseconds(100);

// Raises the soft open-file limit to the hard one (the common soft limit of 1,024 is far below
// what a server needs) and returns how many connections fit beneath it.
size_t FitConnections(size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY) return wanted;
  const size_t room = rl.rlim_cur > 2 * kDescriptorsReserved ? rl.rlim_cur - kDescriptorsReserved
                                                               : rl.rlim_cur / 2;
  if (wanted > room) {
    std::fprintf(stderr,
                 "paymentd: --max-connections %zu lowered to %zu (the open-file limit is %llu)\n",
                 wanted, room, static_cast<unsigned long long>(rl.rlim_cur));
  }
  return std::min(wanted, room);
}

struct Listener::Impl {
  explicit Impl(SessionContext& c) : context(c) {}
  ~Impl() {
    if (reserve_fd >= 0) ::close(reserve_fd);
  }

  Result<void> LoadTls();
  Result<void> Bind();
  void Accept();

  SessionContext& context;
  net::io_context io;
  // Keeps the I/O threads alive while answers are on their way from the writer (a session
  // waiting for its answer has no operation pending), in particular while stopping.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  std::optional<ssl::context> tls;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  size_t connections_max = 0;
  // Out of descriptors, a pending connection cannot be accepted, and it stays pending: the
  // accept loop would spin on it. The reserve descriptor is given up to accept and close it.
  int reserve_fd = -1;
  net::steady_timer pause{io};
  void ShedOnePending();
};

void Listener::Impl::ShedOnePending() {
  if (reserve_fd >= 0) ::close(reserve_fd);
  pollfd p{acceptor.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, 0) == 1) {
    int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
  }
  reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Result<void> Listener::Impl::LoadTls() {
  const ServerOptions& o = context.options;
  if (o.tls_cert_path.empty() != o.tls_key_path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key: give both or neither");
  }
  if (o.tls_cert_path.empty()) return {};
  tls.emplace(ssl::context::tls_server);
  error_code ec;
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1, ec);
  // TLS 1.2 offers only forward-secret AEAD suites (Mozilla's "intermediate" profile without
  // the DHE suites, for which no parameters are configured); TLS 1.3's suites all are.
  if (SSL_CTX_set_cipher_list(tls->native_handle(), kTls12Ciphers) != 1 ||
      SSL_CTX_set_options(tls->native_handle(), SSL_OP_NO_RENEGOTIATION) == 0) {
    return MakeError(ErrorCode::kInvalidConfig, "tls: this OpenSSL refuses the cipher list");
  }
  tls->use_certificate_chain_file(o.tls_cert_path, ec);
  if (ec) return MakeError(ErrorCode::kInvalidConfig, "--tls-cert: " + o.tls_cert_path + ": " + ec.message());
  tls->use_private_key_file(o.tls_key_path, ssl::context::pem, ec);
  if (ec) return MakeError(ErrorCode::kInvalidConfig, "--tls-key: " + o.tls_key_path + ": " + ec.message());
  return {};
}

Result<void> Listener::Impl::Bind() {
  const ServerOptions& o = context.options;
  error_code ec;
  auto address = net::ip::make_address(o.host, ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, "--listen: '" + o.host + "' is not an IP address");
  tcp::endpoint endpoint(address, o.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kNetworkUnavailable, "--listen: cannot listen on " + o.host + ":" +
                                                         std::to_string(o.port) + ": " + ec.message());
  }
  port = acceptor.local_endpoint(ec).port();
  return {};
}

void Listener::Impl::Accept() {
  acceptor.async_accept(net::make_strand(io), [this](error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open() || context.stopping) return;
      if (ec.value() != EMFILE && ec.value() != ENFILE) return Accept();  // errno values
      ShedOnePending();
      pause.expires_after(kOutOfDescriptorsPause);
      return pause.async_wait([this](error_code e) {
        if (!e) Accept();
      });
    }
    if (context.stopping) return;
    if (context.sessions.load() >= connections_max) {
      error_code ignored;
      socket.close(ignored);  // bounded: beyond the limit a connection is refused
      return Accept();
    }
    ++context.sessions;
    StartSession(context, std::move(socket), tls ? &*tls : nullptr);
    Accept();
  });
}

Result<std::unique_ptr<Listener>> Listener::Start(SessionContext& context) {
  auto impl = std::make_unique<Impl>(context);
  PAY_TRY(impl->LoadTls());
  impl->connections_max = FitConnections(context.options.connections_max);
  impl->reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  PAY_TRY(impl->Bind());
  Impl& i = *impl;
  i.work.emplace(net::make_work_guard(i.io));
  i.Accept();
  for (int n = 0; n < std::max(1, context.options.threads); ++n) {
    i.threads.emplace_back([&i] { i.io.run(); });
  }
  return std::unique_ptr<Listener>(new Listener(std::move(impl)));
}

Listener::Listener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Listener::~Listener() { Join(); }

uint16_t Listener::port() const { return impl_->port; }
bool Listener::tls() const { return impl_->tls.has_value(); }
size_t Listener::connections_max() const { return impl_->connections_max; }

void Listener::StopAccepting() {
  Impl& i = *impl_;
  net::post(i.io, [&i] {  // the acceptor belongs to the I/O threads
    error_code ignored;
    i.acceptor.close(ignored);
  });
}

void Listener::Join() {
  Impl& i = *impl_;
  i.work.reset();
  i.io.stop();
  for (auto& t : i.threads) {
    if (t.joinable()) t.join();
  }
}

void Listener::WaitForSignal(const std::atomic<bool>* stop) {
  net::io_context signals_io;
  net::signal_set signals(signals_io, SIGINT, SIGTERM);
  bool fired = false;
  signals.async_wait([&](error_code, int) { fired = true; });
  while (!fired && (stop == nullptr || !stop->load())) {
    signals_io.run_for(std::chrono::milliseconds(50));
  }
}

}  // namespace pay::server
