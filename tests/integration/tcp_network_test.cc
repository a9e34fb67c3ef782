// The card network over TCP on 127.0.0.1 (port 0): the simulator's server with the real issuer
// simulator behind it, the engine's client, faults, malformed frames, reconnection, and the
// engine authorizing through it with faults injected (both ledgers conserve money).

#include "adapters/network/tcp_network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <map>

#include "adapters/network/card_messages.h"
#include "pay/engine.h"
#include "tests/support/temp_dir.h"

namespace pay::network {
namespace {

constexpr int64_t kT0 = 1'795'000'000'000;

CardRequest Auth(int n, std::string pan = "4242424242424242", int64_t amount = 100) {
  char rrn[13], stan[7];
  std::snprintf(rrn, sizeof rrn, "%012d", n);
  std::snprintf(stan, sizeof stan, "%06d", n);
  CardRequest r;
  r.type = CardMessageType::kAuthorization;
  r.pan = std::move(pan);
  r.expiry_yymm = "3012";
  r.amount_minor = amount;
  r.currency = "USD";
  r.merchant_id = "acme";
  r.stan = stan;
  r.rrn = rrn;
  r.transmitted_at_ms = kT0;
  return r;
}

// Counts what reaches the issuer.
class CountingHandler final : public MessageHandler {
 public:
  explicit CountingHandler(MessageHandler& inner) : inner_(inner) {}
  std::vector<std::optional<iso8583::Message>> Handle(std::span<const iso8583::Message> m) override {
    calls += static_cast<int>(m.size());
    return inner_.Handle(m);
  }
  std::atomic<int> calls{0};

 private:
  MessageHandler& inner_;
};

class TcpNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IssuerOptions io;
    io.db_path = dir_.File("issuer.db");
    io.clock = &clock_;
    io.durable = false;
    auto issuer = Issuer::Open(io);
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::move(*issuer);
    counting_ = std::make_unique<CountingHandler>(*issuer_);
  }
  void Serve(const FaultConfig& faults = {}) {
    auto s = TcpNetworkServer::Start(*counting_, faults, "127.0.0.1", 0);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
  }
  std::unique_ptr<TcpCardNetwork> Client(int64_t deadline_ms = 2000) {
    TcpClientOptions o;
    o.deadline_ms = deadline_ms;
    auto c = TcpCardNetwork::Connect("127.0.0.1", server_->port(), o);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }

  pay::testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<Issuer> issuer_;
  std::unique_ptr<CountingHandler> counting_;
  std::unique_ptr<TcpNetworkServer> server_;
};

TEST_F(TcpNetworkTest, RoundTripAndBatchMatchedByStan) {
  Serve();
  auto client = Client();
  ASSERT_TRUE(client);
  CardRequest one = Auth(1);
  auto r = client->Exchange({&one, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->response_code, "00");
  EXPECT_EQ(r[0]->approved_minor, 100);
  std::vector<CardRequest> batch;
  for (int i = 2; i <= 51; ++i) batch.push_back(Auth(i, i % 2 ? "4000000000000002" : "4242424242424242", i));
  auto out = client->Exchange(batch);
  ASSERT_EQ(out.size(), 50u);
  for (size_t k = 0; k < out.size(); ++k) {
    ASSERT_TRUE(out[k]) << out[k].error().message;
    const int i = static_cast<int>(k) + 2;
    EXPECT_EQ(out[k]->response_code, i % 2 ? "05" : "00") << i;  // each answer to its request
    if (i % 2 == 0) EXPECT_EQ(out[k]->approved_minor, i);
  }
  EXPECT_TRUE(client->Echo());
  EXPECT_EQ(server_->stats().echoes, 1);
  EXPECT_EQ(counting_->calls, 51);
}

TEST_F(TcpNetworkTest, DroppedRequestsAndResponsesTimeOut) {
  FaultConfig drop_request;
  drop_request.drop_request_pct = 100;
  Serve(drop_request);
  auto client = Client(200);
  CardRequest a = Auth(1);
  auto r = client->Exchange({&a, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
  EXPECT_EQ(counting_->calls, 0);  // never reached the issuer
  server_->Stop();
  FaultConfig drop_response;
  drop_response.drop_response_pct = 100;
  Serve(drop_response);
  client = Client(200);
  CardRequest b = Auth(2);
  r = client->Exchange({&b, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
  EXPECT_EQ(counting_->calls, 1);  // applied: the issuer holds it
  EXPECT_EQ((*issuer_->Payment("000000000002"))->held_minor, 100);
}

TEST_F(TcpNetworkTest, DuplicateAndLateAnswersAreDiscarded) {
  FaultConfig dup;
  dup.duplicate_response_pct = 100;
  Serve(dup);
  auto client = Client();
  for (int i = 1; i <= 3; ++i) {
    CardRequest a = Auth(i);
    auto r = client->Exchange({&a, 1});
    ASSERT_TRUE(r[0]) << r[0].error().message;
    EXPECT_EQ(r[0]->response_code, "00");
  }
  EXPECT_GE(client->stats().discarded, 1);  // the duplicates of earlier answers
  server_->Stop();
  FaultConfig late;
  late.late_response_pct = 50;
  late.late_by_ms = 300;
  late.seed = 3;
  Serve(late);
  client = Client(150);
  int answered = 0, timeouts = 0;
  for (int i = 10; i < 30; ++i) {
    CardRequest a = Auth(i);
    auto r = client->Exchange({&a, 1});
    if (r[0]) {
      EXPECT_EQ(r[0]->response_code, "00");  // never another request's late answer
      ++answered;
    } else {
      EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
      ++timeouts;
    }
  }
  EXPECT_GT(answered, 3);
  EXPECT_GT(timeouts, 3);
}

TEST_F(TcpNetworkTest, StoppedServerIsUnavailableAndANewOneServes) {
  Serve();
  auto client = Client();
  server_->Stop();
  CardRequest a = Auth(1);
  auto r = client->Exchange({&a, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_TRUE(r[0].error().code == ErrorCode::kNetworkUnavailable ||
              r[0].error().code == ErrorCode::kNetworkTimeout)
      << r[0].error().message;
  Serve();
  auto fresh = Client();
  ASSERT_TRUE(fresh);
  CardRequest b = Auth(2);
  r = fresh->Exchange({&b, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  auto none = TcpCardNetwork::Connect("127.0.0.1", 1, TcpClientOptions{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNetworkUnavailable);
}

TEST_F(TcpNetworkTest, MalformedFramesCloseOnlyTheirConnection) {
  Serve();
  auto client = Client();
  for (const std::string garbage :
       {std::string("\x00\x05hello", 7), std::string("\xff\xff", 2), std::string("\x00\x00", 2)}) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
    char buf[16];
    EXPECT_EQ(read(fd, buf, sizeof buf), 0);  // the server closed this connection
    close(fd);
  }
  EXPECT_EQ(server_->stats().malformed, 3);
  CardRequest a = Auth(1);
  auto r = client->Exchange({&a, 1});  // the others are still served
  ASSERT_TRUE(r[0]) << r[0].error().message;
}

TEST(HostPortTest, ParsesAndNamesTheField) {
  auto ok = ParseHostPort("127.0.0.1:8583", "--listen");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->second, 8583);
  for (const char* bad : {"127.0.0.1", ":80", "127.0.0.1:x", "127.0.0.1:70000", "example:80"}) {
    auto r = ParseHostPort(bad, "--listen");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message.rfind("--listen", 0), 0u) << r.error().message;
  }
}

int64_t Int(std::string_view json, std::string_view name) {
  std::string p = "\"" + std::string(name) + "\":";
  size_t at = json.find(p);
  if (at == std::string_view::npos) return -1;
  int64_t v = 0;
  std::from_chars(json.data() + at + p.size(), json.data() + json.size(), v);
  return v;
}

// The engine over TCP with faults: every payment ends resolved, and both sides agree.
TEST_F(TcpNetworkTest, EngineOverTcpWithFaultsConservesMoney) {
  FaultConfig f;
  f.drop_response_pct = 10;
  f.drop_request_pct = 5;
  f.duplicate_response_pct = 5;
  f.seed = 11;
  Serve(f);
  auto client = Client(150);
  EngineOptions o;
  o.db_path = dir_.File("acquirer.db");
  o.create_if_missing = true;
  o.durability = Durability::kNormal;
  o.clock = &clock_;
  o.card_network = client.get();
  o.card_fingerprint_key = "a test key of at least 16 bytes";
  o.network_rounds_max = 10;
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine) << engine.error().message;
  Engine& e = **engine;
  Command m;
  m.merchant = "acme";
  m.idempotency_key = "m";
  m.request = CreateMerchantRequest{"acme", "USD", 0, 0};
  ASSERT_TRUE(e.Submit(m));
  std::vector<Command> batch;
  for (int i = 0; i < 40; ++i) {
    Command c;
    c.merchant = "acme";
    c.idempotency_key = "a" + std::to_string(i);
    c.request = AuthorizeRequest{{"4242424242424242", "12/30", ""}, 100 + i, "USD"};
    batch.push_back(c);
  }
  auto results = e.SubmitBatch(batch);
  std::vector<Command> caps;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().message;
    if (r->payment_status != "authorized") continue;
    Command c;
    c.merchant = "acme";
    c.idempotency_key = "c" + r->payment_id;
    c.request = CaptureRequest{r->payment_id, std::nullopt, false};
    caps.push_back(c);
  }
  EXPECT_GT(caps.size(), 20u);
  for (const auto& r : e.SubmitBatch(caps)) ASSERT_TRUE(r) << r.error().message;
  // Deliver whatever is still queued (faults stay on: the outbox retries until acknowledged).
  size_t left = 1;
  for (int i = 0; i < 20 && left > 0; ++i) {
    auto l = e.ResolvePending();
    ASSERT_TRUE(l) << l.error().message;
    left = *l;
  }
  EXPECT_EQ(left, 0u);
  ASSERT_TRUE(e.Verify()->ok());
  ASSERT_TRUE(issuer_->Verify()->ok());
  std::map<std::string, IssuerPaymentView> views;
  auto issuer_views = issuer_->Payments();
  ASSERT_TRUE(issuer_views);
  for (const auto& v : *issuer_views) views[v.rrn] = v;
  auto payments = e.ListPaymentJson("acme", "", 1000);
  ASSERT_TRUE(payments);
  for (const std::string& p : *payments) {
    const std::string rrn = p.substr(p.find("\"rrn\":\"") + 7, 12);
    const auto it = views.find(rrn);
    EXPECT_EQ(Int(p, "captured_minor"), it == views.end() ? 0 : it->second.captured_minor) << p;
    EXPECT_EQ(Int(p, "capturable_minor"), it == views.end() ? 0 : it->second.held_minor) << p;
    EXPECT_EQ(p.find("\"status\":\"unknown\""), std::string::npos) << p;
  }
}

}  // namespace
}  // namespace pay::network
