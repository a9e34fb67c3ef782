// The webhook worker's HTTP client (adapters/server/webhooks.h): one POST per connection,
// HTTP/1.1 over TCP or TLS (https://, the system's trust store, the host name checked), every
// step under the attempt's deadline. Beast is confined to this file on the webhook side.

#include <utility>  // Boost 1.74's asio/awaitable.hpp misses it

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <openssl/ssl.h>

#include "adapters/server/webhooks.h"

namespace pay::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct Url {
  bool tls = false;
  std::string host, port, target;
};

Url Split(const std::string& url) {
  Url u;
  std::string_view rest(url);
  u.tls = rest.starts_with("https://");
  rest.remove_prefix(u.tls ? 8 : 7);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    u.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  } else {
    u.port = u.tls ? "443" : "80";
  }
  if (authority.starts_with('[') && authority.ends_with(']')) authority = authority.substr(1, authority.size() - 2);
  u.host = std::string(authority);
  return u;
}

// Runs one asynchronous operation to its end (the stream's deadline cancels it: Beast's
// timeouts apply to asynchronous operations only) and returns its error.
template <class Start>
beast::error_code RunOne(asio::io_context& io, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

template <class Stream>
beast::error_code Exchange(asio::io_context& io, Stream& stream, const Url& u,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, int* status) {
  http::request<http::string_body> req{http::verb::post, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::user_agent, "paymentd-webhooks/1");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  if (auto ec = RunOne(io, [&](auto h) { http::async_write(stream, req, h); })) return ec;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);  // the receiver's answer is read and dropped
  if (auto ec = RunOne(io, [&](auto h) { http::async_read(stream, buffer, parser, h); })) return ec;
  *status = static_cast<int>(parser.get().result_int());
  return {};
}

}  // namespace

PostResult PostHttp(const std::string& url,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& body, int64_t timeout_ms) {
  PostResult out;
  const auto start = std::chrono::steady_clock::now();
  auto finish = [&] {
    out.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start).count();
    return out;
  };
  if (auto ok = CheckWebhookUrl(url); !ok) {
    out.error = ok.error().message;
    return finish();
  }
  const Url u = Split(url);
  auto failed = [&](const beast::error_code& ec) {
    out.error = ec == beast::error::timeout ? "timeout" : ec.message();
    return finish();
  };
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  beast::error_code ec;
  auto resolved = resolver.resolve(u.host, u.port, ec);
  if (ec) return failed(ec);
  beast::tcp_stream tcp(io);
  tcp.expires_after(std::chrono::milliseconds(timeout_ms));  // the whole attempt
  if ((ec = RunOne(io, [&](auto h) { tcp.async_connect(resolved, h); }))) return failed(ec);
  if (!u.tls) {
    if ((ec = Exchange(io, tcp, u, headers, body, &out.status))) return failed(ec);
    return finish();
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), ctx);
  if (!SSL_set_tlsext_host_name(tls.native_handle(), u.host.c_str())) {
    out.error = "TLS: the host name cannot be sent";
    return finish();
  }
  tls.set_verify_callback(asio::ssl::host_name_verification(u.host));
  if ((ec = RunOne(io, [&](auto h) { tls.async_handshake(asio::ssl::stream_base::client, h); }))) {
    return failed(ec);
  }
  if ((ec = Exchange(io, tls, u, headers, body, &out.status))) return failed(ec);
  return finish();
}

}  // namespace pay::server
