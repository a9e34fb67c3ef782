// paymentd over Boost.Beast (see server.h). The only translation unit with Beast in it.

#include <utility>  // before Asio (Boost 1.74 with g++ 12)

#include "adapters/server/server.h"

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/requests/requests.h"
#include "core/crypto.h"
#include "core/json_fields.h"
#include "core/json_writer.h"

namespace pay::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

std::string ErrorJson(const Error& e) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject();
  w.Field("code", e.name()).Field("number", e.number()).Field("message", e.message);
  if (!e.rule.empty()) w.Field("rule", e.rule);
  if (!e.response_code.empty()) w.Field("response_code", e.response_code);
  if (e.retry_after_ms > 0) w.Field("retry_after_ms", e.retry_after_ms);
  w.EndObject().EndObject();
  return w.str();
}

// HTTP status of an error (docs/api.md).
unsigned StatusOf(const Error& e) {
  switch (e.code) {
    case ErrorCode::kIdempotencyKeyReused: return 422;
    case ErrorCode::kIdempotencyKeyInFlight: return 409;
    case ErrorCode::kPaymentInDoubt: return 409;
    case ErrorCode::kUnknownAccount:
    case ErrorCode::kEntryNotFound:
    case ErrorCode::kPaymentNotFound:
    case ErrorCode::kUnknownMerchant: return 404;
    case ErrorCode::kVelocityLimited: return 402;  // a payment result, not a request-rate limit
    case ErrorCode::kNetworkTimeout:
    case ErrorCode::kNetworkUnavailable:
    case ErrorCode::kStoreBusy: return 503;
    default: break;
  }
  switch (ErrorRetryAdvice(e.code)) {
    case RetryAdvice::kFixInput: return 400;
    case RetryAdvice::kDoNotRetry: return 402;
    case RetryAdvice::kRetrySameKey: return 503;
    case RetryAdvice::kContactOperator: return 500;
  }
  return 500;
}

Response ErrorResponse(const Error& e) {
  Response r;
  r.status = StatusOf(e);
  r.body = ErrorJson(e);
  if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response Bad(unsigned status, ErrorCode code, const std::string& message) {
  Response r = ErrorResponse(MakeError(code, message));
  r.status = status;
  return r;
}

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
      continue;
    }
    out.push_back(s[i]);  // a stray '%' stays as it is
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    out[PercentDecode(part.substr(0, eq))] = PercentDecode(part.substr(eq + 1));
  }
  return out;
}

// GCRA per API key: a request is allowed when the theoretical arrival time is within the burst.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, int64_t burst) : rate_(rate_per_s), burst_(std::max<int64_t>(1, burst)) {}
  struct Decision {
    bool allowed = true;
    int64_t retry_after_ms = 0;
    int64_t remaining = 0;
  };
  Decision Check(const std::string& key) {
    Decision d;
    if (rate_ <= 0) {
      d.remaining = burst_;
      return d;
    }
    const double now = std::chrono::duration<double>(SteadyClock::now().time_since_epoch()).count();
    const double interval = 1.0 / rate_;
    const double tolerance = interval * static_cast<double>(burst_ - 1);
    std::lock_guard lock(mu_);
    if (tat_.size() > 1'000'000) tat_.clear();  // bounded: forgetting is generous, not unsafe
    double& tat = tat_[key];
    const double start = std::max(tat, now);
    if (start - now > tolerance) {
      d.allowed = false;
      d.retry_after_ms = static_cast<int64_t>(std::ceil((start - now - tolerance) * 1000));
      return d;
    }
    tat = start + interval;
    d.remaining = static_cast<int64_t>((tolerance - (tat - now)) / interval) + 1;
    if (d.remaining < 0) d.remaining = 0;
    return d;
  }
  int64_t burst() const { return burst_; }

 private:
  double rate_;
  int64_t burst_;
  std::mutex mu_;
  std::unordered_map<std::string, double> tat_;
};

constexpr double kLatencyBucketsMs[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};
constexpr int64_t kBatchBuckets[] = {1, 10, 100, 500, 1000, 5000};

class MetricsRegistry {
 public:
  void Request(const std::string& route, unsigned status, double ms) {
    std::lock_guard lock(mu_);
    ++requests_[route + "\"," + "status=\"" + std::to_string(status)];
    for (size_t i = 0; i < std::size(kLatencyBucketsMs); ++i) {
      if (ms <= kLatencyBucketsMs[i]) ++latency_[i];
    }
    ++latency_count_;
    latency_sum_ms_ += ms;
  }
  void Commit(size_t batch) {
    std::lock_guard lock(mu_);
    ++commits_;
    batch_sum_ += static_cast<int64_t>(batch);
    for (size_t i = 0; i < std::size(kBatchBuckets); ++i) {
      if (static_cast<int64_t>(batch) <= kBatchBuckets[i]) ++batches_[i];
    }
  }
  std::atomic<int64_t> velocity_hits{0};
  std::atomic<int64_t> replays{0};
  std::atomic<int64_t> rate_limited{0};
  std::atomic<int64_t> queue_full{0};

  std::string Text() const {
    std::lock_guard lock(mu_);
    std::string t;
    t += "# HELP paymentd_requests_total HTTP requests by route and status.\n# TYPE paymentd_requests_total counter\n";
    for (const auto& [k, v] : requests_) {
      t += "paymentd_requests_total{route=\"" + k + "\"} " + std::to_string(v) + "\n";
    }
    t += "# HELP paymentd_request_duration_ms Request latency.\n# TYPE paymentd_request_duration_ms histogram\n";
    for (size_t i = 0; i < std::size(kLatencyBucketsMs); ++i) {
      char le[32];
      std::snprintf(le, sizeof le, "%g", kLatencyBucketsMs[i]);
      t += "paymentd_request_duration_ms_bucket{le=\"" + std::string(le) + "\"} " + std::to_string(latency_[i]) + "\n";
    }
    t += "paymentd_request_duration_ms_bucket{le=\"+Inf\"} " + std::to_string(latency_count_) + "\n";
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.3f", latency_sum_ms_);
    t += "paymentd_request_duration_ms_sum " + std::string(sum) + "\n";
    t += "paymentd_request_duration_ms_count " + std::to_string(latency_count_) + "\n";
    t += "# HELP paymentd_commits_total Group commits by the writer.\n# TYPE paymentd_commits_total counter\n";
    t += "paymentd_commits_total " + std::to_string(commits_) + "\n";
    t += "# HELP paymentd_batch_size Commands per group commit.\n# TYPE paymentd_batch_size histogram\n";
    for (size_t i = 0; i < std::size(kBatchBuckets); ++i) {
      t += "paymentd_batch_size_bucket{le=\"" + std::to_string(kBatchBuckets[i]) + "\"} " + std::to_string(batches_[i]) + "\n";
    }
    t += "paymentd_batch_size_bucket{le=\"+Inf\"} " + std::to_string(commits_) + "\n";
    t += "paymentd_batch_size_sum " + std::to_string(batch_sum_) + "\n";
    t += "paymentd_batch_size_count " + std::to_string(commits_) + "\n";
    t += "# TYPE paymentd_velocity_hits_total counter\npaymentd_velocity_hits_total " + std::to_string(velocity_hits.load()) + "\n";
    t += "# TYPE paymentd_idempotent_replays_total counter\npaymentd_idempotent_replays_total " + std::to_string(replays.load()) + "\n";
    t += "# TYPE paymentd_rate_limited_total counter\npaymentd_rate_limited_total " + std::to_string(rate_limited.load()) + "\n";
    t += "# TYPE paymentd_queue_full_total counter\npaymentd_queue_full_total " + std::to_string(queue_full.load()) + "\n";
    return t;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> requests_;
  int64_t latency_[std::size(kLatencyBucketsMs)] = {};
  int64_t latency_count_ = 0;
  double latency_sum_ms_ = 0;
  int64_t commits_ = 0;
  int64_t batch_sum_ = 0;
  int64_t batches_[std::size(kBatchBuckets)] = {};
};

// Where an answer goes: the session that asked.
class Responder : public std::enable_shared_from_this<Responder> {
 public:
  virtual ~Responder() = default;
  virtual void Deliver(Response response) = 0;  // on the session's executor
  virtual net::any_io_executor executor() = 0;
};

}  // namespace

struct Server::Impl {
  Engine* engine = nullptr;
  ServerOptions options;
  net::io_context io;
  // Keeps the I/O threads alive while answers are on their way from the writer (a session
  // waiting for its answer has no operation pending), in particular during Stop().
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  std::optional<ssl::context> tls;
  std::vector<std::thread> threads;
  std::unique_ptr<RateLimiter> limiter;
  MetricsRegistry metrics;
  std::atomic<size_t> sessions{0};
  std::atomic<int64_t> in_flight{0};  // requests accepted and not yet answered
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  uint16_t port = 0;

  // The writer: one thread, a bounded queue, group commits.
  struct Job {
    Command command;
    std::shared_ptr<Responder> responder;
    std::string route;
    SteadyClock::time_point started;
  };
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::condition_variable idle_cv;
  std::deque<Job> queue;
  bool writer_exit = false;
  std::thread writer;

  void Accept();
  Response Handle(const http::request<http::string_body>& req, const std::string& client_ip,
                  const std::shared_ptr<Responder>& responder, std::string* route, bool* deferred);
  Response Post(const std::string& route, const Engine::ApiKey& key, v1::Record record,
                const http::request<http::string_body>& req,
                const std::shared_ptr<Responder>& responder, bool* deferred);
  void WriterLoop();

  // API keys verified once are remembered by the SHA-256 of the presented string, so that I/O
  // threads do not wait for the engine's writer to authenticate (bounded; keys are never
  // revoked today, so a cached key stays valid).
  std::mutex auth_mu;
  std::unordered_map<std::string, Engine::ApiKey> auth_cache;
  Result<std::optional<Engine::ApiKey>> AuthenticateCached(std::string_view presented) {
    const std::string digest = DigestBytes(Sha256(presented));
    {
      std::lock_guard lock(auth_mu);
      auto it = auth_cache.find(digest);
      if (it != auth_cache.end()) return std::optional<Engine::ApiKey>(it->second);
    }
    PAY_ASSIGN_OR_RETURN(auto key, engine->Authenticate(presented));
    if (key) {
      std::lock_guard lock(auth_mu);
      if (auth_cache.size() >= 100'000) auth_cache.clear();
      auth_cache[digest] = *key;
    }
    return key;
  }
  Response FromOutcome(const Result<Outcome>& r);
  void Finished(const std::string& route, unsigned status, SteadyClock::time_point started) {
    metrics.Request(route, status,
                    std::chrono::duration<double, std::milli>(SteadyClock::now() - started).count());
  }
};

namespace {

// One connection: reads requests (bounded, with a deadline), answers them in order.
template <class Stream>
class Session final : public Responder {
 public:
  Session(Server::Impl& server, Stream stream, std::string client_ip)
      : server_(server), stream_(std::move(stream)), client_ip_(std::move(client_ip)) {}
  ~Session() override { --server_.sessions; }

  void Start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::milliseconds(server_.options.read_timeout_ms));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = Self()](beast::error_code ec) {
                                if (ec) return;  // a failed handshake just ends the connection
                                self->Read();
                              });
    } else {
      Read();
    }
  }

  void Deliver(Response response) override { Send(std::move(response)); }
  net::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  void Read() {
    if (server_.stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_bytes_max));
    parser_->body_limit(server_.options.body_bytes_max);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::milliseconds(server_.options.read_timeout_ms));
    http::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return Close();
    }
    started_ = SteadyClock::now();
    if (ec) {
      // A request we cannot read: say why, then close (the stream cannot be trusted).
      keep_alive_ = false;
      counted_ = false;
      route_ = "invalid";
      if (ec == http::error::body_limit) {
        return Send(Bad(413, ErrorCode::kLimitExceeded, "body: larger than " + std::to_string(server_.options.body_bytes_max) + " bytes"));
      }
      if (ec == http::error::header_limit) {
        return Send(Bad(431, ErrorCode::kLimitExceeded, "headers: larger than " + std::to_string(server_.options.header_bytes_max) + " bytes"));
      }
      return Send(Bad(400, ErrorCode::kInvalidArgument, std::string("request: malformed HTTP (") + ec.message() + ")"));
    }
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    counted_ = true;
    ++server_.in_flight;
    bool deferred = false;
    Response r = server_.Handle(request_, client_ip_, shared_from_this(), &route_, &deferred);
    if (!deferred) Send(std::move(r));
  }

  void Send(Response r) {
    server_.Finished(route_, r.status, started_);
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "paymentd");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_ && !server_.stopping);
    res->body() = std::move(r.body);
    res->prepare_payload();
    const bool was_counted = counted_;
    counted_ = false;
    // A client that does not read its answer is cut off like one that does not send.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::milliseconds(server_.options.read_timeout_ms));
    http::async_write(stream_, *res, [self = Self(), res, was_counted](beast::error_code ec, size_t) {
      if (was_counted) self->Done();
      if (ec || !res->keep_alive()) return self->Close();
      self->Read();
    });
  }

  void Done() {
    if (--server_.in_flight == 0) {
      std::lock_guard lock(server_.queue_mu);
      server_.idle_cv.notify_all();
    }
  }

  void Close() {
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

  Server::Impl& server_;
  Stream stream_;
  std::string client_ip_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  bool keep_alive_ = true;
  std::string route_ = "unknown";
  SteadyClock::time_point started_;

 public:
  bool counted_ = false;  // the in-flight count is released when the answer is written
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open() || stopping) return;
      return Accept();
    }
    if (stopping) return;
    if (sessions.load() >= options.connections_max) {
      beast::error_code ignored;
      socket.close(ignored);  // bounded: beyond the limit a connection is refused
      return Accept();
    }
    ++sessions;
    beast::error_code ignored;
    std::string ip = socket.remote_endpoint(ignored).address().to_string();
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls) {
      auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          *this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls), ip);
      s->Start();
    } else {
      auto s = std::make_shared<Session<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(socket)), ip);
      s->Start();
    }
    Accept();
  });
}

namespace {

template <class Message>
Result<void> ParseBody(const http::request<http::string_body>& req, Message* m) {
  const auto type = req[http::field::content_type];
  if (type.starts_with("application/x-protobuf")) {
    if (!m->ParseFromString(req.body())) {
      return MakeError(ErrorCode::kInvalidArgument, "body: not a serialized " + m->GetTypeName());
    }
    return {};
  }
  // curl's -d sends JSON as application/x-www-form-urlencoded: a body that is a JSON object is
  // read as JSON; real form encoding is refused.
  const bool json_by_curl = type.starts_with("application/x-www-form-urlencoded") &&
                            !req.body().empty() && req.body().front() == '{';
  if (!type.empty() && !type.starts_with("application/json") && !json_by_curl) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Content-Type: '" + std::string(type.substr(0, 64)) + "' (application/json or application/x-protobuf)");
  }
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(req.body().empty() ? "{}" : req.body(), m, opts);
  if (!status.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "body: " + std::string(status.message()));
  }
  return {};
}

bool IsMerchantAccount(const std::string& account, const std::string& merchant) {
  const std::string prefix = "m/" + merchant + "/";
  return account.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

Response Server::Impl::Handle(const http::request<http::string_body>& req, const std::string& client_ip,
                              const std::shared_ptr<Responder>& responder, std::string* route,
                              bool* deferred) {
  const std::string_view target(req.target().data(), req.target().size());
  const size_t qmark = target.find('?');
  const std::string path(target.substr(0, qmark));
  const auto query = ParseQuery(qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1));
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;

  if (path == "/healthz") {
    *route = "/healthz";
    Response r;
    r.body = R"({"status":"ok"})";
    return r;
  }
  if (path == "/metrics") {
    *route = "/metrics";
    Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics.Text();
    return r;
  }
  if (path.rfind("/v1/", 0) != 0) {
    *route = "unknown";
    return Bad(404, ErrorCode::kInvalidArgument, "path: no route " + path.substr(0, 128));
  }

  // Authentication: Authorization: Bearer pk_...
  const auto auth = req[http::field::authorization];
  if (!auth.starts_with("Bearer ")) {
    *route = "unauthenticated";
    Response r = Bad(401, ErrorCode::kInvalidArgument, "Authorization: 'Bearer pk_...' is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  auto key = AuthenticateCached(std::string_view(auth.data() + 7, auth.size() - 7));
  if (!key) return ErrorResponse(key.error());
  if (!*key) {
    *route = "unauthenticated";
    Response r = Bad(401, ErrorCode::kInvalidArgument, "Authorization: unknown or revoked API key");
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return r;
  }
  const Engine::ApiKey& k = **key;
  // Request rate per key, before the idempotency layer.
  auto rate = limiter->Check(k.id);
  if (!rate.allowed) {
    ++metrics.rate_limited;
    *route = "rate_limited";
    Response r = Bad(429, ErrorCode::kVelocityLimited, "rate: more than the API key's request rate");
    r.headers.emplace_back("Retry-After", std::to_string((rate.retry_after_ms + 999) / 1000));
    r.headers.emplace_back("RateLimit-Limit", std::to_string(limiter->burst()));
    r.headers.emplace_back("RateLimit-Remaining", "0");
    r.headers.emplace_back("RateLimit-Reset", std::to_string((rate.retry_after_ms + 999) / 1000));
    return r;
  }
  auto forbid = [&](const std::string& what) { return Bad(403, ErrorCode::kInvalidArgument, "forbidden: " + what); };

  // Reads.
  if (get && path.rfind("/v1/payments/", 0) == 0) {
    *route = "GET /v1/payments/{id}";
    const std::string id = PercentDecode(path.substr(13));
    auto json = engine->PaymentJson(id);
    if (!json) return ErrorResponse(json.error());
    if (!k.admin && JsonStringField(*json, "merchant") != k.merchant) {
      return ErrorResponse(MakeError(ErrorCode::kPaymentNotFound, "payment_id: no payment '" + id + "'"));
    }
    Response r;
    r.body = *json;
    return r;
  }
  if (get && path == "/v1/payments") {
    *route = "GET /v1/payments";
    std::string merchant = query.count("merchant") ? query.at("merchant") : std::string();
    if (!k.admin) {
      if (!merchant.empty() && merchant != k.merchant) return forbid("another merchant's payments");
      merchant = k.merchant;
    }
    size_t limit = 100;
    if (query.count("limit")) limit = std::clamp<size_t>(std::strtoul(query.at("limit").c_str(), nullptr, 10), 1, 1000);
    auto list = engine->ListPaymentJson(merchant, query.count("after") ? query.at("after") : "", limit);
    if (!list) return ErrorResponse(list.error());
    JsonWriter w;
    w.BeginObject().Key("payments").BeginArray();
    for (const auto& p : *list) w.Raw(p);
    w.EndArray().EndObject();
    Response r;
    r.body = w.str();
    return r;
  }
  if (get && path.rfind("/v1/accounts/", 0) == 0) {
    const std::string rest = path.substr(13);
    const bool balance = rest.size() > 8 && rest.compare(rest.size() - 8, 8, "/balance") == 0;
    const bool history = rest.size() > 8 && rest.compare(rest.size() - 8, 8, "/history") == 0;
    if (!balance && !history) {
      *route = "unknown";
      return Bad(404, ErrorCode::kInvalidArgument, "path: use /v1/accounts/{id}/balance or /history");
    }
    *route = balance ? "GET /v1/accounts/{id}/balance" : "GET /v1/accounts/{id}/history";
    const std::string id = PercentDecode(rest.substr(0, rest.size() - 8));
    if (!k.admin && !IsMerchantAccount(id, k.merchant)) return forbid("account '" + id + "' is not this key's merchant's");
    Response r;
    if (balance) {
      auto a = engine->GetAccount(id);
      if (!a) return ErrorResponse(a.error());
      r.body = AccountJson(*a);
      return r;
    }
    auto lines = engine->History(id, 100);
    if (!lines) return ErrorResponse(lines.error());
    JsonWriter w;
    w.BeginObject().Field("account", id).Key("lines").BeginArray();
    for (const auto& l : *lines) {
      w.BeginObject().Field("entry", l.seq).Field("description", l.description);
      w.Field("debit_minor", l.debit_minor).Field("credit_minor", l.credit_minor);
      w.Field("balance_minor", l.balance_minor).Field("available_minor", l.available_minor).EndObject();
    }
    w.EndArray().EndObject();
    r.body = w.str();
    return r;
  }
  if (!post) {
    *route = "unknown";
    return Bad(405, ErrorCode::kInvalidArgument, "method: " + std::string(req.method_string()) + " is not allowed on " + path.substr(0, 128));
  }

  // Writes: the same pay.v1 messages as the transaction files.
  v1::Record record;
  record.set_client_ip(client_ip);
  record.set_credential(k.id);
  record.set_merchant(k.merchant);
  Result<void> parsed;
  if (path == "/v1/merchants") {
    *route = "POST /v1/merchants";
    if (!k.admin) return forbid("creating merchants needs an admin key");
    parsed = ParseBody(req, record.mutable_create_merchant());
    record.set_merchant(record.create_merchant().id());
  } else if (path == "/v1/funding") {
    *route = "POST /v1/funding";
    if (!k.admin) return forbid("funding needs an admin key");
    if (!query.count("merchant")) return Bad(400, ErrorCode::kInvalidArgument, "merchant: the query parameter ?merchant=ID is required");
    record.set_merchant(query.at("merchant"));
    parsed = ParseBody(req, record.mutable_fund());
  } else if (path == "/v1/payments/authorize") {
    *route = "POST /v1/payments/authorize";
    parsed = ParseBody(req, record.mutable_authorize());
  } else if (path == "/v1/disbursements") {
    *route = "POST /v1/disbursements";
    parsed = ParseBody(req, record.mutable_push());
  } else if (path == "/v1/p2p") {
    *route = "POST /v1/p2p";
    parsed = ParseBody(req, record.mutable_p2p());
  } else if (path.rfind("/v1/payments/", 0) == 0) {
    const std::string rest = path.substr(13);
    const size_t slash = rest.rfind('/');
    const std::string id = slash == std::string::npos ? std::string() : PercentDecode(rest.substr(0, slash));
    const std::string action = slash == std::string::npos ? rest : rest.substr(slash + 1);
    if (action == "capture") {
      parsed = ParseBody(req, record.mutable_capture());
      record.mutable_capture()->set_payment_id(id);
      record.mutable_capture()->clear_payment_key();
    } else if (action == "void") {
      parsed = ParseBody(req, record.mutable_void_payment());
      record.mutable_void_payment()->set_payment_id(id);
      record.mutable_void_payment()->clear_payment_key();
    } else if (action == "refund") {
      parsed = ParseBody(req, record.mutable_refund());
      record.mutable_refund()->set_payment_id(id);
      record.mutable_refund()->clear_payment_key();
    } else if (action == "increment") {
      parsed = ParseBody(req, record.mutable_increment());
      record.mutable_increment()->set_payment_id(id);
      record.mutable_increment()->clear_payment_key();
    } else {
      *route = "unknown";
      return Bad(404, ErrorCode::kInvalidArgument, "path: no route " + path.substr(0, 128));
    }
    *route = "POST /v1/payments/{id}/" + action;
  } else {
    *route = "unknown";
    return Bad(404, ErrorCode::kInvalidArgument, "path: no route " + path.substr(0, 128));
  }
  if (!parsed) return ErrorResponse(parsed.error());
  return Post(*route, k, std::move(record), req, responder, deferred);
}

Response Server::Impl::Post(const std::string& route, const Engine::ApiKey& key, v1::Record record,
                            const http::request<http::string_body>& req,
                            const std::shared_ptr<Responder>& responder, bool* deferred) {
  const auto idem = req["Idempotency-Key"];
  if (idem.empty()) {
    return Bad(400, ErrorCode::kInvalidIdempotencyKey, "Idempotency-Key: the header is required on POST");
  }
  record.set_idempotency_key(std::string(idem));
  auto command = requests::CommandFromRecord(*engine, record, Channel::kServer);
  if (!command) return ErrorResponse(command.error());
  command->client.ip = record.client_ip();
  command->client.credential = key.id;
  {
    std::lock_guard lock(queue_mu);
    if (stopping) return Bad(503, ErrorCode::kStoreBusy, "server: shutting down");
    if (queue.size() >= options.queue_max) {
      ++metrics.queue_full;
      Response r = Bad(503, ErrorCode::kStoreBusy, "server: the writer's queue is full; retry with the same key");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    queue.push_back({std::move(*command), responder, route, SteadyClock::now()});
  }
  queue_cv.notify_one();
  *deferred = true;
  return {};
}

Response Server::Impl::FromOutcome(const Result<Outcome>& r) {
  if (!r) {
    if (r.error().code == ErrorCode::kVelocityLimited) ++metrics.velocity_hits;
    return ErrorResponse(r.error());
  }
  Response out;
  out.body = r->body;
  if (r->declined) out.status = 402;
  if (r->replayed) {
    ++metrics.replays;
    out.headers.emplace_back("Idempotent-Replayed", "true");
  }
  return out;
}

void Server::Impl::WriterLoop() {
  for (;;) {
    std::vector<Job> jobs;
    {
      std::unique_lock lock(queue_mu);
      queue_cv.wait(lock, [&] { return writer_exit || !queue.empty(); });
      if (queue.empty() && writer_exit) return;
      const size_t n = std::min(queue.size(), options.batch_max);
      jobs.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        jobs.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    std::vector<Command> commands;
    commands.reserve(jobs.size());
    for (Job& j : jobs) commands.push_back(std::move(j.command));
    auto results = engine->SubmitBatch(commands);  // answered only after its commit
    metrics.Commit(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      Response resp = FromOutcome(results[i]);
      auto responder = jobs[i].responder;
      net::post(responder->executor(), [responder, resp = std::move(resp)]() mutable {
        responder->Deliver(std::move(resp));
      });
    }
  }
}

Server::Server() : impl_(std::make_unique<Impl>()) {}
Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(Engine& engine, const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server());
  Impl& impl = *server->impl_;
  impl.engine = &engine;
  impl.options = options;
  impl.limiter = std::make_unique<RateLimiter>(options.rate_per_s, options.burst);
  if (options.tls_cert_path.empty() != options.tls_key_path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key: give both or neither");
  }
  if (!options.tls_cert_path.empty()) {
    impl.tls.emplace(ssl::context::tls_server);
    beast::error_code ec;
    impl.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1, ec);
    impl.tls->use_certificate_chain_file(options.tls_cert_path, ec);
    if (ec) return MakeError(ErrorCode::kInvalidConfig, "--tls-cert: " + options.tls_cert_path + ": " + ec.message());
    impl.tls->use_private_key_file(options.tls_key_path, ssl::context::pem, ec);
    if (ec) return MakeError(ErrorCode::kInvalidConfig, "--tls-key: " + options.tls_key_path + ": " + ec.message());
  }
  beast::error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, "--listen: '" + options.host + "' is not an IP address");
  tcp::endpoint endpoint(address, options.port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kNetworkUnavailable, "--listen: cannot listen on " + options.host + ":" +
                                                         std::to_string(options.port) + ": " + ec.message());
  }
  impl.port = impl.acceptor.local_endpoint(ec).port();
  impl.work.emplace(net::make_work_guard(impl.io));
  impl.writer = std::thread([&impl] { impl.WriterLoop(); });
  impl.Accept();
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl.threads.emplace_back([&impl] { impl.io.run(); });
  }
  return server;
}

uint16_t Server::port() const { return impl_->port; }
bool Server::tls() const { return impl_->tls.has_value(); }
std::string Server::Metrics() const { return impl_->metrics.Text(); }

void Server::Stop() {
  Impl& impl = *impl_;
  if (impl.stopped.exchange(true)) return;
  impl.stopping = true;
  net::post(impl.io, [&impl] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
  });
  {
    // Everything accepted is committed and answered first (bounded wait).
    std::unique_lock lock(impl.queue_mu);
    impl.writer_exit = true;
    impl.queue_cv.notify_all();
  }
  if (impl.writer.joinable()) impl.writer.join();
  {
    std::unique_lock lock(impl.queue_mu);
    impl.idle_cv.wait_for(lock, std::chrono::seconds(10), [&] { return impl.in_flight.load() <= 0; });
  }
  impl.work.reset();
  impl.io.stop();
  for (auto& t : impl.threads) {
    if (t.joinable()) t.join();
  }
}

void Server::WaitForSignal(const std::atomic<bool>* stop) {
  net::io_context signals_io;
  net::signal_set signals(signals_io, SIGINT, SIGTERM);
  bool fired = false;
  signals.async_wait([&](beast::error_code, int) { fired = true; });
  while (!fired && (stop == nullptr || !stop->load())) {
    signals_io.run_for(std::chrono::milliseconds(50));
  }
  Stop();
}

}  // namespace pay::server
