// paymentd on 127.0.0.1 (port 0) with a real engine, the simulated network and raw sockets as
// clients: every route, authentication, idempotency over HTTP, malformed and oversized requests,
// request-rate limits, concurrent retries of one key, TLS with a certificate made at test time,
// slow clients and a graceful shutdown with requests in flight.

#include "adapters/server/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "pay/simulator.h"
#include "tests/support/payment_json.h"
#include "tests/support/pg_schema.h"
#include "tests/support/temp_dir.h"

namespace pay::server {
namespace {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool closed = false;
};

// A keep-alive HTTP/1.1 client over a plain socket (or a TLS session).
class Client {
 public:
  explicit Client(uint16_t port, SSL_CTX* tls = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (connected_ && tls != nullptr) {
      ssl_ = SSL_new(tls);
      SSL_set_fd(ssl_, fd_);
      SSL_set_tlsext_host_name(ssl_, "localhost");
      connected_ = SSL_connect(ssl_) == 1;
    }
  }
  ~Client() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    close(fd_);
  }
  bool connected() const { return connected_; }
  bool SendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ssl_ ? SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off))
                       : write(fd_, bytes.data() + off, bytes.size() - off);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  HttpResponse Request(const std::string& method, const std::string& target, const std::string& key,
                       const std::string& body = "", const std::string& idem = "",
                       const std::string& extra = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
    if (!key.empty()) req += "Authorization: Bearer " + key + "\r\n";
    if (!idem.empty()) req += "Idempotency-Key: " + idem + "\r\n";
    if (!body.empty()) req += "Content-Type: application/json\r\n";
    req += extra;
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!SendRaw(req)) return HttpResponse{0, {}, "", true};
    return Read();
  }
  HttpResponse Read() {
    HttpResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) {
        r.closed = true;
        return r;
      }
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.status = std::atoi(head.substr(9, 3).c_str());
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(c));
        r.headers[name] = line.substr(colon + 2);
      }
      pos = next;
    }
    size_t len = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buf_.size() < len) {
      if (!Fill()) break;
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, std::min(len, buf_.size()));
    return r;
  }
  // True when the server closed the connection (reads 0 bytes).
  bool ClosedByServer() { return !Fill(); }

 private:
  bool Fill() {
    char tmp[16384];
    ssize_t n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : read(fd_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
  std::string buf_;
};

std::string Field(const std::string& json, const std::string& name) {
  std::string p = "\"" + name + "\":\"";
  size_t at = json.find(p);
  if (at == std::string::npos) return {};
  at += p.size();
  return json.substr(at, json.find('"', at) - at);
}

constexpr const char* kAuth = R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"25.00","currency":"USD"})";

// Every test runs with paymentd's books on a SQLite file and on PostgreSQL (PAY_TEST_POSTGRES;
// a fresh schema per test, skipped and said so without it).
class ServerTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::string Db() const {
    return std::string(GetParam()) == "Postgres" ? pg_.conninfo() : dir_.File("paymentd.db");
  }
  void SetUp() override {
    if (std::string(GetParam()) == "Postgres" && !pg_.available()) {
      GTEST_SKIP() << pay::testing::PgSchema::kSkipReason;
    }
    SimulatorOptions so;
    so.issuer_db_path = dir_.File("issuer.db");
    so.clock = &clock_;
    so.durable = false;
    network_ = std::move(*CardNetworkSimulator::Open(so));
    EngineOptions o;
    o.db_path = Db();
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    o.clock = &clock_;
    o.card_network = network_.get();
    o.card_fingerprint_key = "server test key of 16+ bytes";
    engine_ = std::move(*Engine::Open(o));
    for (const char* m : {"acme", "beta"}) {
      Command c;
      c.merchant = m;
      c.idempotency_key = std::string("merchant/") + m;
      c.request = CreateMerchantRequest{m, "USD", 0, 0};
      ASSERT_TRUE(engine_->Submit(c));
    }
    keys_ = std::move(*ApiKeys::Open(Db(), clock_));
    admin_ = *keys_->Create("", true);
    acme_ = *keys_->Create("acme", false);
    beta_ = *keys_->Create("beta", false);
  }
  void Serve(ServerOptions o = {}) {
    o.port = 0;
    auto s = Server::Start(*engine_, *keys_, o);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  pay::testing::TempDir dir_;
  pay::testing::PgSchema pg_;
  ManualClock clock_{1'795'000'000'000};
  std::unique_ptr<CardNetworkSimulator> network_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ApiKeys> keys_;
  std::unique_ptr<Server> server_;
  std::string admin_, acme_, beta_;
};

TEST_P(ServerTest, EveryRouteOverOneKeepAliveConnection) {
  Serve();
  Client c(server_->port());
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Request("GET", "/healthz", "").status, 200);
  auto m = c.Request("POST", "/v1/merchants", admin_, R"({"id":"gamma","currency":"USD","fee_bps":100})", "m-gamma");
  EXPECT_EQ(m.status, 200) << m.body;
  auto f = c.Request("POST", "/v1/funding?merchant=acme", admin_, R"({"amount":"1000.00","currency":"USD"})", "f-1");
  EXPECT_EQ(f.status, 200) << f.body;
  auto a = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "o-1");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Field(a.body, "status"), "authorized");
  const std::string id = Field(a.body, "payment_id");
  auto inc = c.Request("POST", "/v1/payments/" + id + "/increment", acme_, R"({"amount":"5.00"})", "i-1");
  EXPECT_EQ(Field(inc.body, "status"), "authorized") << inc.body;
  auto cap = c.Request("POST", "/v1/payments/" + id + "/capture", acme_, R"({"amount":"20.00","final":true})", "c-1");
  EXPECT_EQ(Field(cap.body, "status"), "captured") << cap.body;
  auto ref = c.Request("POST", "/v1/payments/" + id + "/refund", acme_, R"({"amount":"5.00"})", "r-1");
  EXPECT_EQ(Field(ref.body, "status"), "partially_refunded") << ref.body;
  auto a2 = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "o-2");
  auto v = c.Request("POST", "/v1/payments/" + Field(a2.body, "payment_id") + "/void", acme_, "", "v-2");
  EXPECT_EQ(Field(v.body, "status"), "voided") << v.body;
  auto push = c.Request("POST", "/v1/disbursements", acme_,
                        R"({"card":{"number":"5555555555554444"},"amount":"30.00","currency":"USD","purpose":"FD","recipient_name":"Ada"})", "p-1");
  EXPECT_EQ(Field(push.body, "status"), "completed") << push.body;
  auto p2p = c.Request("POST", "/v1/p2p", acme_,
                       R"({"from_card":{"number":"5555555555554444","expiry":"12/30"},"to_card":{"number":"4242424242424242"},"amount":"10.00","currency":"USD"})", "q-1");
  EXPECT_EQ(Field(p2p.body, "status"), "completed") << p2p.body;
  auto show = c.Request("GET", "/v1/payments/" + id, acme_);
  EXPECT_EQ(show.status, 200);
  EXPECT_EQ(Field(show.body, "payment_id"), id);
  auto list = c.Request("GET", "/v1/payments?merchant=acme&limit=10", acme_);
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(id), std::string::npos);
  auto bal = c.Request("GET", "/v1/accounts/m%2Facme%2Fdisbursement/balance", acme_);
  EXPECT_EQ(bal.status, 200) << bal.body;
  EXPECT_NE(bal.body.find("\"balance_minor\":97000"), std::string::npos) << bal.body;
  auto hist = c.Request("GET", "/v1/accounts/m/acme/pending/history", acme_);  // raw slashes work too
  EXPECT_EQ(hist.status, 200) << hist.body;
  auto metrics = c.Request("GET", "/metrics", "");
  EXPECT_NE(metrics.body.find("paymentd_commits_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("route=\"POST /v1/payments/authorize\",status=\"200\""), std::string::npos) << metrics.body;
}

TEST_P(ServerTest, AuthenticationAndMerchantBoundaries) {
  Serve();
  Client c(server_->port());
  EXPECT_EQ(c.Request("GET", "/v1/payments", "").status, 401);
  EXPECT_EQ(c.Request("GET", "/v1/payments", "pk_000000000000_" + std::string(48, '0')).status, 401);
  EXPECT_EQ(c.Request("GET", "/v1/payments", acme_.substr(0, acme_.size() - 1) + "x").status, 401);
  EXPECT_EQ(c.Request("POST", "/v1/merchants", acme_, R"({"id":"x","currency":"USD"})", "k").status, 403);
  EXPECT_EQ(c.Request("POST", "/v1/funding?merchant=acme", acme_, R"({"amount":"1.00","currency":"USD"})", "k").status, 403);
  auto a = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "o-1");
  const std::string id = Field(a.body, "payment_id");
  EXPECT_EQ(c.Request("GET", "/v1/payments/" + id, beta_).status, 404);  // not beta's
  EXPECT_EQ(c.Request("POST", "/v1/payments/" + id + "/capture", beta_, "{}", "c").status, 404);
  EXPECT_EQ(c.Request("GET", "/v1/payments?merchant=acme", beta_).status, 403);
  EXPECT_EQ(c.Request("GET", "/v1/accounts/m%2Facme%2Favailable/balance", beta_).status, 403);
  EXPECT_EQ(c.Request("GET", "/v1/accounts/acq%2FUSD%2Ffees/balance", acme_).status, 403);
  EXPECT_EQ(c.Request("GET", "/v1/accounts/acq%2FUSD%2Ffees/balance", admin_).status, 200);
}

TEST_P(ServerTest, ChannelRefusalsCarryTheChannelsErrorCodes) {
  ServerOptions o;
  o.rate_per_s = 1;
  o.burst = 1;
  Serve(o);
  Client c(server_->port());
  auto none = c.Request("GET", "/v1/payments", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("\"code\":\"unauthenticated\",\"number\":2017"), std::string::npos) << none.body;
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  auto forbidden = c.Request("POST", "/v1/merchants", acme_, R"({"id":"x","currency":"USD"})", "k");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_NE(forbidden.body.find("\"code\":\"forbidden\",\"number\":2018"), std::string::npos) << forbidden.body;
  auto limited = c.Request("GET", "/v1/payments", acme_);
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("\"code\":\"rate_limited\",\"number\":3008"), std::string::npos) << limited.body;
  auto metrics = c.Request("GET", "/metrics", "");
  EXPECT_NE(metrics.body.find("route=\"unauthenticated\",status=\"401\""), std::string::npos);
  EXPECT_NE(metrics.body.find("route=\"rate_limited\",status=\"429\""), std::string::npos);
}

TEST_P(ServerTest, PathsReadAsTheFirstVersionReadThem) {
  Serve();
  Client c(server_->port());
  auto nope = c.Request("GET", "/v1/nope", acme_);  // no route for any method: 404
  EXPECT_EQ(nope.status, 404);
  EXPECT_NE(nope.body.find(R"("type":"invalid_request_error","code":"not_found","number":1015)"), std::string::npos) << nope.body;
  EXPECT_EQ(c.Request("POST", "/v1/nope", acme_, "{}", "k").status, 404);
  auto method = c.Request("DELETE", "/v1/payments", acme_);  // a route for GET only: 405
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.headers["allow"], "GET");
  EXPECT_NE(method.body.find(R"("code":"method_not_allowed","number":1016)"), std::string::npos) << method.body;
  auto hint = c.Request("GET", "/v1/accounts/m%2Facme%2Favailable", acme_);
  EXPECT_EQ(hint.status, 404);
  EXPECT_NE(hint.body.find("/balance or /history"), std::string::npos) << hint.body;
  EXPECT_EQ(c.Request("GET", "/v1/accounts//balance", acme_).status, 404);
  auto no_id = c.Request("POST", "/v1/payments/capture", acme_, "{}", "k");  // an empty id
  EXPECT_EQ(no_id.status, 400);
  EXPECT_NE(no_id.body.find("payment_key or payment_id"), std::string::npos) << no_id.body;
  // {id} takes slashes (account ids): this reads as GET /v1/payments/{id} with id "x/authorize".
  EXPECT_EQ(c.Request("POST", "/v1/payments/x/authorize", acme_, "{}", "k").status, 405);
  EXPECT_EQ(c.Request("GET", "/nope", "").status, 404);  // outside /v1/: no key needed to hear it
}

TEST_P(ServerTest, IdempotencyRulesOverHttp) {
  Serve();
  Client c(server_->port());
  auto first = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "order-9");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.headers.count("idempotent-replayed"), 0u);
  auto again = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "order-9");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  EXPECT_EQ(again.body, first.body);
  auto other = c.Request("POST", "/v1/payments/authorize", acme_,
                         R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"26.00","currency":"USD"})", "order-9");
  EXPECT_EQ(other.status, 422) << other.body;
  auto missing = c.Request("POST", "/v1/payments/authorize", acme_, kAuth);
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("Idempotency-Key"), std::string::npos);
  // The same key under another merchant is another key.
  auto beta = c.Request("POST", "/v1/payments/authorize", beta_, kAuth, "order-9");
  EXPECT_EQ(beta.status, 200);
  EXPECT_NE(Field(beta.body, "payment_id"), Field(first.body, "payment_id"));
  // A network decline and a refusal by the books are both 402 in the one error shape; the
  // decline carries its reason in words and the payment it recorded, the same on a replay.
  const std::string decline = R"({"card":{"number":"4000000000000002","expiry":"12/30"},"amount":"1.00","currency":"USD"})";
  auto declined = c.Request("POST", "/v1/payments/authorize", acme_, decline, "d-1");
  EXPECT_EQ(declined.status, 402);
  EXPECT_EQ(declined.body.rfind(R"({"error":{"type":"card_error","code":"card_declined","number":2019,)", 0), 0u) << declined.body;
  EXPECT_NE(declined.body.find(R"("decline_code":"do_not_honor","decline_reason":"Do not honor: the issuer declined without a reason","response_code":"05")"), std::string::npos) << declined.body;
  EXPECT_NE(declined.body.find(R"("payment":{"payment_id":")"), std::string::npos) << declined.body;
  EXPECT_EQ(Field(declined.body, "status"), "declined");
  auto declined_again = c.Request("POST", "/v1/payments/authorize", acme_, decline, "d-1");
  EXPECT_EQ(declined_again.status, 402);
  EXPECT_EQ(declined_again.body, declined.body);
  EXPECT_EQ(declined_again.headers["idempotent-replayed"], "true");
  auto illegal = c.Request("POST", "/v1/payments/" + Field(declined.body, "payment_id") + "/capture", acme_, "{}", "d-cap");
  EXPECT_EQ(illegal.status, 402) << illegal.body;
  EXPECT_EQ(illegal.body.rfind(R"({"error":{"type":"ledger_error","code":"illegal_transition",)", 0), 0u) << illegal.body;
}

// API keys over HTTP: an admin lists, creates, rolls and revokes; a merchant key sees and
// manages only its merchant's; a revoked key is refused on the next request.
TEST_P(ServerTest, ApiKeysAreListedCreatedRolledAndRevoked) {
  Serve();
  Client c(server_->port());
  auto made = c.Request("POST", "/v1/apikeys?merchant=acme&mode=live", admin_);
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string live = Field(made.body, "api_key");
  EXPECT_EQ(live.substr(0, 8), "sk_live_");
  EXPECT_EQ(c.Request("GET", "/v1/payments", live).status, 200);
  EXPECT_EQ(c.Request("POST", "/v1/apikeys?merchant=acme", acme_).status, 403);

  auto all = c.Request("GET", "/v1/apikeys", admin_);
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body.rfind(R"({"object":"list","data":[)", 0), 0u) << all.body;
  auto own = c.Request("GET", "/v1/apikeys?limit=1", acme_);
  EXPECT_EQ(own.status, 200);
  EXPECT_NE(own.body.find(R"("has_more":true,"next_cursor":")"), std::string::npos) << own.body;
  EXPECT_EQ(own.body.find("beta"), std::string::npos) << own.body;
  EXPECT_EQ(c.Request("GET", "/v1/apikeys?merchant=beta", acme_).status, 403);

  const std::string id = live.substr(8, 12);
  EXPECT_EQ(c.Request("POST", "/v1/apikeys/" + id + "/revoke", beta_).status, 404) << "not beta's key";
  auto rolled = c.Request("POST", "/v1/apikeys/" + id + "/roll?expires_in=0", acme_);
  ASSERT_EQ(rolled.status, 200) << rolled.body;
  const std::string next = Field(rolled.body, "api_key");
  EXPECT_EQ(Field(rolled.body, "replaces"), id);
  EXPECT_EQ(c.Request("GET", "/v1/payments", live).status, 401) << "replaced at once";
  EXPECT_EQ(c.Request("GET", "/v1/payments", next).status, 200);
  auto revoked = c.Request("POST", "/v1/apikeys/" + next.substr(8, 12) + "/revoke", admin_);
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  auto refused = c.Request("GET", "/v1/payments", next);
  EXPECT_EQ(refused.status, 401);
  EXPECT_NE(refused.body.find("unknown, revoked or expired"), std::string::npos) << refused.body;
}

// GET /v1/payments: a list envelope with a cursor, filtered by status and creation time;
// filters that do not parse are 400 naming the parameter.
TEST_P(ServerTest, PaymentListsPageAndFilter) {
  Serve();
  Client c(server_->port());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto a = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "list-" + std::to_string(i));
    ASSERT_EQ(a.status, 200) << a.body;
    ids.push_back(Field(a.body, "payment_id"));
  }
  ASSERT_EQ(c.Request("POST", "/v1/payments/" + ids[1] + "/capture", acme_, "{}", "list-cap").status, 200);
  auto first = c.Request("GET", "/v1/payments?limit=2", acme_);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body.rfind(R"({"object":"list","data":[{"payment_id":")" + ids[0], 0), 0u) << first.body;
  EXPECT_NE(first.body.find(R"("has_more":true,"next_cursor":")" + ids[1] + "\""), std::string::npos) << first.body;
  auto second = c.Request("GET", "/v1/payments?limit=2&after=" + ids[1], acme_);
  EXPECT_NE(second.body.find(ids[2]), std::string::npos);
  EXPECT_NE(second.body.find(R"("has_more":false})"), std::string::npos) << second.body;
  auto captured = c.Request("GET", "/v1/payments?status=captured", acme_);
  EXPECT_NE(captured.body.find(ids[1]), std::string::npos) << captured.body;
  EXPECT_EQ(captured.body.find(ids[0]), std::string::npos) << captured.body;
  auto later = c.Request("GET", "/v1/payments?created_gte=4102444800", acme_);  // 2100-01-01
  EXPECT_EQ(later.body, R"({"object":"list","data":[],"has_more":false})");
  auto before = c.Request("GET", "/v1/payments?created_lt=2100-01-01T00:00:00Z&status=authorized", acme_);
  EXPECT_NE(before.body.find(ids[0]), std::string::npos) << before.body;
  auto bad = c.Request("GET", "/v1/payments?status=done", acme_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("param":"status")"), std::string::npos) << bad.body;
  EXPECT_EQ(c.Request("GET", "/v1/payments?created_gte=yesterday", acme_).status, 400);
  EXPECT_EQ(c.Request("GET", "/v1/payments?limit=abc", acme_).status, 400);
}

// A payment's description and metadata: kept, shown, found by exact key and value, part of the
// request an idempotency key stands for, and bounded.
TEST_P(ServerTest, PaymentsKeepADescriptionAndMetadata) {
  Serve();
  Client c(server_->port());
  const std::string with = R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"25.00","currency":"USD",)"
                           R"("description":"2 tickets","metadata":{"order":"A-17","channel":"web"}})";
  auto a = c.Request("POST", "/v1/payments/authorize", acme_, with, "notes-1");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find(R"("description":"2 tickets","metadata":{"channel":"web","order":"A-17"})"), std::string::npos) << a.body;
  const std::string id = Field(a.body, "payment_id");
  EXPECT_EQ(c.Request("GET", "/v1/payments/" + id, acme_).body, a.body);
  // The same request with its metadata in another order is the same request.
  const std::string reordered = R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"25.00","currency":"USD",)"
                                R"("metadata":{"channel":"web","order":"A-17"},"description":"2 tickets"})";
  auto again = c.Request("POST", "/v1/payments/authorize", acme_, reordered, "notes-1");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  const std::string other = R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"25.00","currency":"USD",)"
                            R"("metadata":{"order":"A-18"}})";
  EXPECT_EQ(c.Request("POST", "/v1/payments/authorize", acme_, other, "notes-1").status, 422);
  ASSERT_EQ(c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "notes-plain").status, 200);
  auto found = c.Request("GET", "/v1/payments?metadata[order]=A-17", acme_);
  EXPECT_NE(found.body.find(id), std::string::npos) << found.body;
  EXPECT_EQ(found.body.find("notes-plain"), std::string::npos);
  EXPECT_EQ(c.Request("GET", "/v1/payments?metadata[order]=A-99", acme_).body,
            R"({"object":"list","data":[],"has_more":false})");
  std::string many = R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"1.00","currency":"USD","metadata":{)";
  for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  many += "}}";
  auto too_many = c.Request("POST", "/v1/payments/authorize", acme_, many, "notes-2");
  EXPECT_EQ(too_many.status, 400);
  EXPECT_NE(too_many.body.find(R"("param":"metadata")"), std::string::npos) << too_many.body;
  const std::string twice = R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"1.00","currency":"USD",)"
                            R"("metadata":{"a":"1","a":"2"}})";
  EXPECT_EQ(c.Request("POST", "/v1/payments/authorize", acme_, twice, "notes-3").status, 400);
}

// Settlement, expiry and resolution as admin routes: the same reports as the CLI's --json.
TEST_P(ServerTest, AdminRoutesRunTheSweeps) {
  Serve();
  Client c(server_->port());
  auto auth = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "sweep-1");
  ASSERT_EQ(auth.status, 200) << auth.body;
  auto cap = c.Request("POST", "/v1/payments/" + Field(auth.body, "payment_id") + "/capture", acme_, "{}", "sweep-cap");
  ASSERT_EQ(cap.status, 200) << cap.body;
  auto refused = c.Request("POST", "/v1/admin/settle", acme_);
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find(R"("type":"permission_error","code":"forbidden")"), std::string::npos) << refused.body;
  auto settled = c.Request("POST", "/v1/admin/settle", admin_);
  EXPECT_EQ(settled.status, 200);
  EXPECT_EQ(settled.body.rfind(R"({"payments":1,"totals":[{"currency":"USD","net_minor":2500,)", 0), 0u) << settled.body;
  EXPECT_EQ(c.Request("POST", "/v1/admin/settle", admin_).body, R"({"payments":0,"totals":[]})");
  auto expired = c.Request("POST", "/v1/admin/expire", admin_);
  EXPECT_EQ(expired.status, 200);
  EXPECT_EQ(expired.body, R"({"expired":0,"advices_queued":false})");
  EXPECT_EQ(c.Request("POST", "/v1/admin/resolve", admin_).status, 200);
  auto get = c.Request("GET", "/v1/admin/settle", admin_);
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.headers["allow"], "POST");
}

// /metrics after real payments: authorizations by result and response code with its reason,
// timeouts and reversals, payouts by status and the age of pending credits, money and fees by
// merchant from the books, authorizations close to expiry.
TEST_P(ServerTest, MetricsShowWhatAnAcquirerWatches) {
  Command m;
  m.merchant = "delta";
  m.idempotency_key = "merchant/delta";
  m.request = CreateMerchantRequest{"delta", "USD", 250, 0};  // 2.5 %
  ASSERT_TRUE(engine_->Submit(m));
  const std::string delta = *keys_->Create("delta", false);
  ServerOptions o;
  o.clock = &clock_;
  Serve(o);
  Client c(server_->port());
  auto auth = [&](const std::string& card, const std::string& key) {
    return c.Request("POST", "/v1/payments/authorize", delta,
                     R"({"card":{"number":")" + card +
                         R"(","expiry":"12/30"},"amount":"25.00","currency":"USD"})",
                     key);
  };
  auto a1 = auth("4242424242424242", "m-1");
  auto a2 = auth("4242424242424242", "m-2");
  auto a3 = auth("4242424242424242", "m-3");  // left open: it will be close to expiry
  auth("4000000000000002", "m-4");            // 05 do not honor
  auto a5 = auth("4000000000000341", "m-5");  // no answer: unknown, then reversed
  EXPECT_EQ(Field(a5.body, "status"), "reversed") << a5.body;
  auto cap = c.Request("POST", "/v1/payments/" + Field(a1.body, "payment_id") + "/capture", delta,
                       "{}", "m-cap");
  ASSERT_EQ(cap.status, 200) << cap.body;
  auto v = c.Request("POST", "/v1/payments/" + Field(a2.body, "payment_id") + "/void", delta, "",
                     "m-void");
  ASSERT_EQ(v.status, 200) << v.body;
  ASSERT_EQ(c.Request("POST", "/v1/admin/settle", admin_).status, 200);
  ASSERT_EQ(c.Request("POST", "/v1/funding?merchant=delta", admin_,
                      R"({"amount":"100.00","currency":"USD"})", "m-f")
                .status,
            200);
  auto push = c.Request(
      "POST", "/v1/disbursements", delta,
      R"({"card":{"number":"4000000000003220"},"amount":"30.00","currency":"USD","purpose":"FD","recipient_name":"Ada"})",
      "m-p");
  EXPECT_EQ(Field(push.body, "status"), "pending_credit") << push.body;
  EXPECT_EQ(
      c.Request("POST", "/v1/payments/authorize", delta, R"({"amount":"1.00"})", "m-bad").status,
      400);
  clock_.AdvanceMs(6LL * 24 * 3600 * 1000 + 3600 * 1000);  // 6 days and an hour later
  const std::string text = c.Request("GET", "/metrics", "").body;
  for (
      const char* line : {
          R"(paymentd_authorizations_total{result="approved",response_code="00",reason="approved"} 3)",
          R"(paymentd_authorizations_total{result="declined",response_code="05",reason="do_not_honor"} 1)",
          R"(paymentd_authorizations_total{result="unknown",response_code="",reason="timeout"} 1)",
          R"(paymentd_network_timeouts_total{operation="authorize"} 1)",
          R"(paymentd_reversals_total{cause="timeout"} 1)",
          R"(paymentd_reversals_total{cause="void"} 1)",
          R"(paymentd_payouts_total{status="pending_credit"} 1)",
          R"(paymentd_payments{kind="push",status="pending_credit"} 1)",
          R"(paymentd_payments{kind="card",status="settled"} 1)",
          R"(paymentd_payments_in_doubt 0)",
          R"(paymentd_authorizations_expiring 1)",
          R"(paymentd_payouts_pending_credit_oldest_age_seconds 522000)",
          R"(paymentd_volume_minor_total{merchant="delta",currency="USD",flow="captured"} 2500)",
          R"(paymentd_volume_minor_total{merchant="delta",currency="USD",flow="settled"} 2500)",
          R"(paymentd_volume_minor_total{merchant="delta",currency="USD",flow="pushed"} 3000)",
          R"(paymentd_fees_minor_total{merchant="delta",currency="USD"} 62)",
          R"(paymentd_batch_size_count )",
      }) {
    EXPECT_NE(text.find(std::string("\n") + line), std::string::npos) << line << "\n" << text;
  }
  // No card data and no ids in any label.
  EXPECT_EQ(text.find("4242"), std::string::npos);
  EXPECT_EQ(text.find("pay_"), std::string::npos);
}

// Every answer names its request (Request-Id, unique), and the access log has one line per
// request naming the same id, its route and status, and never a card number, wherever the
// client put one.
TEST_P(ServerTest, EveryAnswerHasARequestIdAndOneAccessLogLine) {
  std::mutex mu;
  std::vector<std::string> lines;
  ServerOptions o;
  o.access_log = [&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  };
  Serve(o);
  Client c(server_->port());
  std::vector<HttpResponse> answers = {
      c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "log-1"),
      c.Request("GET", "/v1/payments/4242424242424242", acme_),
      c.Request("GET", "/v1/payments", ""),
      c.Request("GET", "/healthz", "")};
  std::set<std::string> ids;
  for (const auto& a : answers) {
    const std::string id = a.headers.count("request-id") ? a.headers.at("request-id") : "";
    EXPECT_EQ(id.rfind("req_", 0), 0u) << a.status << " " << a.body;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), answers.size());
  server_->Stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(lines.size(), answers.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_NE(lines[i].find("\"request_id\":\"" + answers[i].headers.at("request-id") + "\""), std::string::npos) << lines[i];
    EXPECT_NE(lines[i].find("\"status\":" + std::to_string(answers[i].status) + ","), std::string::npos) << lines[i];
    EXPECT_EQ(lines[i].find("4242424242"), std::string::npos) << "card data in the log: " << lines[i];
  }
  EXPECT_NE(lines[0].find(R"("method":"POST","route":"POST /v1/payments/authorize","status":200)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[2].find(R"("route":"unauthenticated","status":401)"), std::string::npos) << lines[2];
}

TEST_P(ServerTest, MalformedAndOversizedRequestsGetClearErrorsAndTheServerStaysUp) {
  ServerOptions o;
  o.body_bytes_max = 1024;
  o.header_bytes_max = 2048;
  Serve(o);
  {
    Client c(server_->port());
    auto bad_json = c.Request("POST", "/v1/payments/authorize", acme_, "{\"card\":", "k1");
    EXPECT_EQ(bad_json.status, 400);
    EXPECT_NE(bad_json.body.find("body: "), std::string::npos) << bad_json.body;
    auto unknown = c.Request("POST", "/v1/payments/authorize", acme_, R"({"colour":"red"})", "k2");
    EXPECT_EQ(unknown.status, 400);
    auto bad_amount = c.Request("POST", "/v1/payments/authorize", acme_,
                                R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":"1.001","currency":"USD"})", "k3");
    EXPECT_EQ(bad_amount.status, 400);
    EXPECT_NE(bad_amount.body.find("amount"), std::string::npos) << bad_amount.body;
    // More than ISO 8583 DE 4 carries: refused, and the key stays free (it once answered
    // "unknown" and then 409 for good).
    for (const char* amount : {"10000000000.00", "92233720368547758.07"}) {
      auto huge = c.Request("POST", "/v1/payments/authorize", acme_,
                            std::string(R"({"card":{"number":"4242424242424242","expiry":"12/30"},"amount":")") +
                                amount + R"(","currency":"USD"})", "k-huge");
      EXPECT_EQ(huge.status, 400) << amount;
      EXPECT_NE(huge.body.find("at most 9999999999.99 USD"), std::string::npos) << huge.body;
    }
    EXPECT_EQ(c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "k-huge").status, 200);
    for (const char* bad : {"abc", "0", "101", "10x", "-1", ""}) {
      auto r = c.Request("GET", std::string("/v1/payments?limit=") + bad, acme_);
      EXPECT_EQ(r.status, 400) << bad;
      EXPECT_NE(r.body.find("limit: an integer from 1 to 100"), std::string::npos) << r.body;
    }
    EXPECT_EQ(c.Request("GET", "/nope", acme_).status, 404);
    EXPECT_EQ(c.Request("DELETE", "/v1/payments", acme_).status, 405);
  }
  {
    Client c(server_->port());
    auto big = c.Request("POST", "/v1/payments/authorize", acme_, std::string(4096, ' '), "k4");
    EXPECT_EQ(big.status, 413);
  }
  {
    Client c(server_->port());
    auto huge = c.Request("GET", "/v1/payments", acme_, "", "", "X-Junk: " + std::string(4096, 'a') + "\r\n");
    EXPECT_EQ(huge.status, 431);
  }
  {
    Client c(server_->port());
    ASSERT_TRUE(c.SendRaw("THIS IS NOT HTTP\r\n\r\n"));
    EXPECT_EQ(c.Read().status, 400);
  }
  Client ok(server_->port());
  EXPECT_EQ(ok.Request("GET", "/healthz", "").status, 200);  // still serving
}

// Requests sent back to back in one write (pipelining) are each read and answered, in order;
// a request split into many small writes is read whole.
TEST_P(ServerTest, PipelinedAndFragmentedRequestsAreRead) {
  Serve();
  Client c(server_->port());
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.SendRaw(get + "GET /v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + acme_ +
                        "\r\n\r\n" + get));
  EXPECT_EQ(c.Read().status, 200);
  auto list = c.Read();
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(R"("object":"list")"), std::string::npos) << list.body;
  EXPECT_EQ(c.Read().status, 200);
  const std::string post = std::string("POST /v1/payments/authorize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") +
                           acme_ + "\r\nIdempotency-Key: frag-1\r\nContent-Type: application/json\r\n" +
                           "Content-Length: " + std::to_string(std::string(kAuth).size()) + "\r\n\r\n" + kAuth;
  for (char ch : post) ASSERT_TRUE(c.SendRaw(std::string(1, ch)));
  auto a = c.Read();
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Field(a.body, "status"), "authorized") << a.body;
}

// Requests that could be read two ways are refused with a 400 naming the problem, never guessed
// at: a JSON key given twice, a deciding header given twice, HTTP/1.1 without Host, "01.00".
TEST_P(ServerTest, AmbiguousRequestsAreRefused) {
  Serve();
  struct Case {
    std::string body, extra, expect;
    bool host = true;
  };
  const std::string card = R"("card":{"number":"4242424242424242","expiry":"12/30"},"currency":"USD")";
  for (const Case& c : std::initializer_list<Case>{
           {"{" + card + R"(,"amount":"1.00","amount":"2.00"})", "", "body: duplicate key 'amount'"},
           {"{" + card + R"(,"amount":"01.00"})", "", "leading zero"},
           {"{" + card + R"(,"amount":"1.00"})", "Idempotency-Key: other\r\n", "header Idempotency-Key: given more than once"},
           {"{" + card + R"(,"amount":"1.00"})", "Authorization: Bearer pk_x_y\r\n", "header Authorization: given more than once"},
           {"{" + card + R"(,"amount":"1.00"})", "X-Note: one\r\n two\r\n", "header: a line folded onto the next"},
           {"{" + card + R"(,"amount":"1.00"})", "X-Note: one\r\n\ttwo\r\n", "header: a line folded onto the next"},
           {"{" + card + R"(,"amount":"1.00"})", "", "header Host: required in HTTP/1.1", false}}) {
    Client client(server_->port());
    std::string req = "POST /v1/payments/authorize HTTP/1.1\r\n";
    if (c.host) req += "Host: localhost\r\n";
    req += "Authorization: Bearer " + acme_ + "\r\nIdempotency-Key: amb-1\r\n" + c.extra +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(c.body.size()) +
           "\r\n\r\n" + c.body;
    ASSERT_TRUE(client.SendRaw(req));
    auto r = client.Read();
    EXPECT_EQ(r.status, 400) << c.expect;
    EXPECT_NE(r.body.find(c.expect), std::string::npos) << r.body;
  }
  // Nothing was executed under the key.
  Client client(server_->port());
  EXPECT_EQ(client.Request("POST", "/v1/payments/authorize", acme_, kAuth, "amb-1").status, 200);
}

TEST_P(ServerTest, RequestRateIsLimitedPerApiKey) {
  ServerOptions o;
  o.rate_per_s = 1;
  o.burst = 2;
  Serve(o);
  Client c(server_->port());
  EXPECT_EQ(c.Request("GET", "/v1/payments", acme_).status, 200);
  EXPECT_EQ(c.Request("GET", "/v1/payments", acme_).status, 200);
  auto limited = c.Request("GET", "/v1/payments", acme_);
  EXPECT_EQ(limited.status, 429);
  EXPECT_GE(std::atoi(limited.headers["retry-after"].c_str()), 1);
  EXPECT_EQ(limited.headers["ratelimit-remaining"], "0");
  EXPECT_EQ(c.Request("GET", "/v1/payments", beta_).status, 200);  // per key
}

TEST_P(ServerTest, ConcurrentClientsWithOneKeyExecuteOnce) {
  Serve();
  std::atomic<int> fresh{0}, replays{0}, conflicts{0};
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      Client c(server_->port());
      for (int i = 0; i < 5; ++i) {
        auto r = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "same-key");
        if (r.status == 409) {
          ++conflicts;
          continue;
        }
        if (r.status != 200) continue;
        (r.headers.count("idempotent-replayed") ? replays : fresh)++;
        std::lock_guard lock(mu);
        ids.insert(Field(r.body, "payment_id"));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(fresh + replays + conflicts, 40);
  EXPECT_EQ(ids.size(), 1u);
}

TEST_P(ServerTest, TlsWithACertificateMadeAtTestTime) {
  const std::string cert = dir_.File("cert.pem"), key = dir_.File("key.pem");
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " +
                          key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  ServerOptions o;
  o.tls_cert_path = cert;
  o.tls_key_path = key;
  Serve(o);
  EXPECT_TRUE(server_->tls());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(SSL_CTX_load_verify_locations(ctx, cert.c_str(), nullptr), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  {
    Client c(server_->port(), ctx);
    ASSERT_TRUE(c.connected());
    EXPECT_EQ(c.Request("GET", "/healthz", "").status, 200);
    auto a = c.Request("POST", "/v1/payments/authorize", acme_, kAuth, "tls-1");
    EXPECT_EQ(Field(a.body, "status"), "authorized") << a.body;
  }
  {
    Client plain(server_->port());  // plain HTTP to a TLS port is told so
    auto r = plain.Request("GET", "/healthz", "");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("this port speaks TLS only"), std::string::npos) << r.body;
  }
  // TLS 1.2 without forward secrecy or AEAD does not negotiate; an AEAD ECDHE suite does.
  for (auto [suites, ok] : {std::pair{"AES128-SHA", false}, std::pair{"AES256-SHA256", false},
                            std::pair{"ECDHE-RSA-AES128-SHA", false},
                            std::pair{"ECDHE-RSA-AES128-GCM-SHA256", true}}) {
    SSL_CTX* weak = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(weak, TLS1_2_VERSION);
    ASSERT_EQ(SSL_CTX_set_cipher_list(weak, suites), 1) << suites;
    Client c(server_->port(), weak);
    EXPECT_EQ(c.connected(), ok) << suites;
    SSL_CTX_free(weak);
  }
  SSL_CTX_free(ctx);
  auto bad = Server::Start(*engine_, *keys_, ServerOptions{.tls_cert_path = cert});
  EXPECT_FALSE(bad);
}

// With a small open-file limit the server raises its soft limit to the hard one, keeps
// --max-connections beneath it, and when a flood of connections takes every descriptor all the
// same it sheds what it cannot accept and answers again as soon as descriptors are free. (The
// hard limit is lowered for good: ctest runs each test in a process of its own.)
TEST_P(ServerTest, OutOfDescriptorsTheServerKeepsItsLimitsAndRecovers) {
#if defined(__SANITIZE_ADDRESS__)
  // Out of descriptors, the sanitizers' own checks fail: UBSan probes memory through a pipe and
  // then reports a valid object as having an invalid vptr (seen in Asio's error categories).
  GTEST_SKIP() << "not under the sanitizers: their runtime needs file descriptors";
#endif
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_max = std::min<rlim_t>(rl.rlim_max, 256);
  rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 128);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  Serve();
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_EQ(rl.rlim_cur, rl.rlim_max);
  EXPECT_EQ(server_->connections_max(), rl.rlim_max - 64);
  {
    // This process's clients and the server's sessions share the descriptors: a flood of 200
    // takes them all.
    std::vector<std::unique_ptr<Client>> flood;
    for (int i = 0; i < 200; ++i) flood.push_back(std::make_unique<Client>(server_->port()));
  }
  Client after(server_->port());
  ASSERT_TRUE(after.connected());
  EXPECT_EQ(after.Request("GET", "/healthz", "").status, 200);
}

// One client address cannot take every connection; connections that have not shown a valid key
// are not kept idle for the full read timeout; and failed authentications are limited per
// address (past them, a request's key is not even looked at).
TEST_P(ServerTest, OneClientCannotLockOthersOut) {
  ServerOptions o;
  o.connections_per_client_max = 3;
  o.read_timeout_ms = 60'000;
  o.unauthenticated_timeout_ms = 100;
  o.auth_failures_per_s = 0.01;
  o.auth_failures_burst = 3;
  Serve(o);
  Client a(server_->port());
  EXPECT_EQ(a.Request("GET", "/v1/payments", acme_).status, 200);  // authenticated
  Client b(server_->port()), c(server_->port());
  Client d(server_->port());                 // the fourth from 127.0.0.1
  EXPECT_TRUE(d.ClosedByServer());
  EXPECT_TRUE(b.ClosedByServer());           // idle without a key: cut at 100 ms, not 60 s
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_EQ(a.Request("GET", "/healthz", "").status, 200);  // idle longer, but authenticated
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.Request("GET", "/v1/payments", "pk_bad_key").status, 401);
  auto limited = a.Request("GET", "/v1/payments", "pk_bad_key");
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("too many failed attempts"), std::string::npos) << limited.body;
  EXPECT_FALSE(limited.headers["retry-after"].empty());
  EXPECT_EQ(a.Request("GET", "/healthz", "").status, 200);  // public routes still answer
}

TEST_P(ServerTest, SlowClientsAreCutOffAndOthersServed) {
  ServerOptions o;
  o.read_timeout_ms = 200;
  Serve(o);
  Client slow(server_->port());
  ASSERT_TRUE(slow.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // never finishes
  Client fast(server_->port());
  EXPECT_EQ(fast.Request("GET", "/healthz", "").status, 200);
  EXPECT_TRUE(slow.ClosedByServer());  // waits for the server's deadline, not a sleep
}

TEST_P(ServerTest, GracefulShutdownAnswersAndCommitsWhatWasAccepted) {
  Serve();
  Client c(server_->port());
  // Pipeline 20 authorizations, then stop the server while they are queued or running.
  std::string burst;
  for (int i = 0; i < 20; ++i) {
    std::string body = kAuth;
    burst += "POST /v1/payments/authorize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + acme_ +
             "\r\nIdempotency-Key: g-" + std::to_string(i) + "\r\nContent-Type: application/json\r\n" +
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  ASSERT_TRUE(c.SendRaw(burst));
  auto first = c.Read();  // at least one is in the engine's hands
  ASSERT_EQ(first.status, 200);
  std::vector<std::string> answered_ids = {Field(first.body, "payment_id")};
  std::thread stopper([&] { server_->Stop(); });
  while (true) {
    auto r = c.Read();
    if (r.closed || r.status == 0) break;
    ASSERT_TRUE(r.status == 200 || r.status == 503) << r.status;
    if (r.status == 200) answered_ids.push_back(Field(r.body, "payment_id"));
  }
  stopper.join();
  // Everything answered 200 is committed: the payment is in the books, authorized.
  for (const std::string& id : answered_ids) {
    auto json = pay::testing::ShowPaymentJson(*engine_, id);
    ASSERT_TRUE(json) << id;
    EXPECT_EQ(Field(*json, "status"), "authorized") << *json;
  }
  auto list = pay::testing::ListPaymentJson(*engine_, "acme", "", 100);
  ASSERT_TRUE(list);
  EXPECT_GE(list->size(), answered_ids.size());
  EXPECT_TRUE(engine_->Verify()->ok());
  server_.reset();
}

INSTANTIATE_TEST_SUITE_P(Stores, ServerTest, ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& i) { return std::string(i.param); });

}  // namespace
}  // namespace pay::server
