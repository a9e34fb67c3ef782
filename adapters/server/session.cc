// The only translation unit with Beast in it (compile cost: docs/architecture.md).

#include <utility>  // before Asio (Boost 1.74 with g++ 12)

#include "adapters/server/session.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/json_writer.h"
#include "core/time_format.h"

namespace pay::server {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr size_t kReadChunkBytes = 8192;  // what one read asks the socket for
constexpr size_t kLoggedMethodBytesMax = 16;
const std::string kUnknownRoute = "unknown";

HttpRequest PlainRequest(http::request<http::string_body>&& req, const std::string& client_ip) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.authorization = std::string(req[http::field::authorization]);
  r.content_type = std::string(req[http::field::content_type]);
  r.idempotency_key = std::string(req["Idempotency-Key"]);
  r.body = std::move(req.body());
  r.client_ip = client_ip;
  return r;
}

// A request that can be read two ways is refused rather than guessed at: a header that decides
// what the request does given twice (which one would count?), or HTTP/1.1 without its Host.
std::string Ambiguity(const http::request<http::string_body>& req) {
  for (const char* name : {"Authorization", "Idempotency-Key", "Content-Type", "Content-Length",
                           "Host"}) {
    if (req.count(name) > 1) return std::string("header ") + name + ": given more than once";
  }
  if (req.version() >= 11 && req.count(http::field::host) == 0) {
    return "header Host: required in HTTP/1.1";
  }
  return {};
}

template <class Stream>
class Session final : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(SessionContext& context, Stream stream, std::string client_ip)
      : context_(context), stream_(std::move(stream)), client_ip_(std::move(client_ip)) {}
  ~Session() {
    context_.clients.Remove(client_ip_);
    --context_.sessions;
  }

  void Start() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      RequestDeadline();
      beast::get_lowest_layer(stream_).async_read_some(
          net::buffer(first_bytes_), [self = Self()](beast::error_code ec, size_t n) { self->OnFirstBytes(ec, n); });
    } else {
      Read();
    }
  }

 private:
  std::shared_ptr<Session> Self() { return this->shared_from_this(); }

  // A TLS connection starts with a handshake record (0x16). Anything else is most likely plain
  // HTTP sent to the TLS port: it gets a plain refusal that says so, not a silent close.
  void OnFirstBytes(beast::error_code ec, size_t n) {
    if (ec || n == 0) return Close();
    if (first_bytes_[0] == 0x16) {
      stream_.async_handshake(ssl::stream_base::server, net::buffer(first_bytes_.data(), n),
                              [self = Self()](beast::error_code ec, size_t) {
                                if (ec) return;  // a failed handshake just ends the connection
                                self->Read();
                              });
      return;
    }
    HttpResponse r = ErrorResponse(400, ErrorCode::kInvalidArgument,
                                   "request: this port speaks TLS only; use https://");
    auto text = std::make_shared<std::string>(
        "HTTP/1.1 400 Bad Request\r\nServer: paymentd\r\nRequest-Id: " + NextRequestId() +
        "\r\nContent-Type: " + r.content_type +
        "\r\nConnection: close\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" +
        r.body);
    context_.metrics.Request("invalid", 400, 0);
    net::async_write(beast::get_lowest_layer(stream_), net::buffer(*text),
                     [self = Self(), text](beast::error_code, size_t) { self->Close(); });
  }

  // Every read and write must finish within the read timeout.
  void Deadline() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::milliseconds(context_.options.read_timeout_ms));
  }
  // A request must arrive within the read timeout; on a connection that has not yet shown a
  // valid API key, within the (shorter) unauthenticated timeout.
  void RequestDeadline() {
    const int64_t ms = authenticated_ ? context_.options.read_timeout_ms
                                      : std::min(context_.options.read_timeout_ms,
                                                 context_.options.unauthenticated_timeout_ms);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::milliseconds(ms));
  }

  void Read() {
    if (context_.stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(context_.options.header_bytes_max));
    parser_->body_limit(context_.options.body_bytes_max);
    RequestDeadline();
    Parse();  // the buffer may hold the next request already (pipelining)
  }

  // Feeds the buffer to the parser, reading more while it needs more. The header's bytes are
  // looked at before the parser sees them: it would join a folded line (obs-fold) into one
  // value, and a request that can be read two ways is refused.
  void Parse() {
    for (;;) {
      if (parser_->is_done()) return OnRead({});
      if (!parser_->is_header_done() && Folded(buffer_.data())) {
        return RefuseAmbiguous("header: a line folded onto the next (obs-fold)");
      }
      if (buffer_.size() == 0) return ReadMore();
      beast::error_code ec;
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more || (!ec && used == 0)) return ReadMore();
      if (ec) return OnRead(ec);
    }
  }

  void ReadMore() {
    stream_.async_read_some(buffer_.prepare(kReadChunkBytes), [self = Self()](beast::error_code ec, size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->OnRead(ec);
      self->Parse();
    });
  }

  // Whether the header in `bytes` (up to its blank line, or all of it) continues a line on the
  // next one: a CRLF followed by a space or a tab.
  static bool Folded(net::const_buffer bytes) {
    const std::string_view text(static_cast<const char*>(bytes.data()), bytes.size());
    const std::string_view header = text.substr(0, text.find("\r\n\r\n"));
    for (size_t at = header.find("\r\n"); at != std::string_view::npos; at = header.find("\r\n", at + 2)) {
      if (at + 2 < text.size() && (text[at + 2] == ' ' || text[at + 2] == '\t')) return true;
    }
    return false;
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return Close();
    }
    started_ = SteadyClock::now();
    method_.clear();
    if (ec) return Refuse(ec);
    auto req = parser_->release();
    method_ = std::string(req.method_string().substr(0, kLoggedMethodBytesMax));
    if (std::string why = Ambiguity(req); !why.empty()) return RefuseAmbiguous(why);
    keep_alive_ = req.keep_alive();
    counted_ = true;
    context_.in_flight.Add();
    // An answer from the writer comes back on another thread: post it to this session.
    auto later = [self = Self()](HttpResponse r) {
      net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->Send(std::move(r)); });
    };
    auto now = context_.dispatcher.Handle(PlainRequest(std::move(req), client_ip_), std::move(later));
    authenticated_ = authenticated_ || !now || now->authenticated;  // none now: the writer has it
    if (now) Send(std::move(*now));
  }

  // A request we cannot read: say why, then close (the stream cannot be trusted).
  void Refuse(beast::error_code ec) {
    keep_alive_ = false;
    counted_ = false;
    HttpResponse r;
    if (ec == http::error::body_limit) {
      r = ErrorResponse(413, ErrorCode::kLimitExceeded, "body: larger than " + std::to_string(context_.options.body_bytes_max) + " bytes");
    } else if (ec == http::error::header_limit) {
      r = ErrorResponse(431, ErrorCode::kLimitExceeded, "headers: larger than " + std::to_string(context_.options.header_bytes_max) + " bytes");
    } else {
      r = ErrorResponse(400, ErrorCode::kInvalidArgument, std::string("request: malformed HTTP (") + ec.message() + ")");
    }
    r.route = "invalid";
    Send(std::move(r));
  }

  void RefuseAmbiguous(const std::string& why) {
    keep_alive_ = false;
    counted_ = false;
    HttpResponse r = ErrorResponse(400, ErrorCode::kInvalidArgument, why);
    r.route = "invalid";
    Send(std::move(r));
  }

  void Send(HttpResponse r) {
    const std::string& route = r.route.empty() ? kUnknownRoute : r.route;
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - started_).count();
    context_.metrics.Request(route, r.status, ms);
    const std::string request_id = NextRequestId();
    if (context_.options.access_log) Log(request_id, route, r.status, ms, r.body.size());
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "paymentd");
    res->set(http::field::content_type, r.content_type);
    res->set("Request-Id", request_id);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_ && !context_.stopping);
    res->body() = std::move(r.body);
    res->prepare_payload();
    const bool was_counted = counted_;
    counted_ = false;
    Deadline();  // a client that does not read its answer is cut off like one that does not send
    http::async_write(stream_, *res, [self = Self(), res, was_counted](beast::error_code ec, size_t) {
      if (was_counted) self->context_.in_flight.Done();
      if (ec || !res->keep_alive()) return self->Close();
      self->Read();
    });
  }

  std::string NextRequestId() {
    char counter[24];
    std::snprintf(counter, sizeof counter, "%010llx",
                  static_cast<unsigned long long>(context_.requests.fetch_add(1) + 1));
    return context_.request_id_prefix + counter;
  }

  // One line of the access log: what was asked (the route's pattern, not the path: a path may
  // carry anything a client put there) and how it was answered.
  void Log(const std::string& request_id, const std::string& route, unsigned status, double ms,
           size_t bytes) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
    JsonWriter w;
    w.BeginObject().Field("time", FormatRfc3339Ms(now_ms)).Field("request_id", request_id);
    w.Field("ip", client_ip_).Field("method", method_).Field("route", route);
    w.Field("status", static_cast<int64_t>(status));
    w.Key("duration_ms").Raw(FormatMs(ms)).Field("bytes", static_cast<int64_t>(bytes)).EndObject();
    context_.options.access_log(w.str());
  }
  static std::string FormatMs(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", ms);
    return buf;
  }

  void Close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  SessionContext& context_;
  Stream stream_;
  std::string client_ip_;
  beast::flat_buffer buffer_;
  std::array<uint8_t, 16> first_bytes_{};  // TLS ports: what arrived first
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool authenticated_ = false;  // a request with a valid API key was seen
  bool counted_ = false;  // the in-flight count is released when the answer is written
  SteadyClock::time_point started_;
  std::string method_;  // of the request being answered (empty when it could not be read)
};

}  // namespace

void StartSession(SessionContext& context, tcp::socket socket, ssl::context* tls) {
  beast::error_code ignored;
  std::string ip = socket.remote_endpoint(ignored).address().to_string();
  if (!context.clients.TryAdd(ip, context.options.connections_per_client_max)) {
    socket.close(ignored);  // this address holds its share of connections already
    --context.sessions;
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);
  if (tls != nullptr) {
    std::make_shared<Session<TlsStream>>(context, TlsStream(beast::tcp_stream(std::move(socket)), *tls), ip)->Start();
  } else {
    std::make_shared<Session<beast::tcp_stream>>(context, beast::tcp_stream(std::move(socket)), ip)->Start();
  }
}

}  // namespace pay::server
