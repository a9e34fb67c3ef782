// The card network over TCP on 127.0.0.1 (port 0): the simulator's server and the engine's
// client. Most tests put a tiny MessageHandler behind the server (it approves every request for
// its own amount, so an answer shows which request it belongs to); the last ones use the real
// issuer simulator and the engine with faults injected (both ledgers conserve money).
// No sleeps: tests wait on results; short deadlines only where a timeout is the point.

#include "adapters/network/tcp_network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <charconv>
#include <future>
#include <map>
#include <stdexcept>
#include <thread>

#include "adapters/network/card_messages.h"
#include "pay/engine.h"
#include "tests/support/payment_json.h"
#include "tests/support/temp_dir.h"

namespace pay::network {
namespace {

constexpr int64_t kT0 = 1'795'000'000'000;
constexpr int64_t kShortDeadlineMs = 200;  // only where a timeout is the point

CardRequest Auth(int n, int64_t amount = 100, std::string pan = "4242424242424242") {
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

// Approves every request for its own amount and counts what reaches it. Called on the server's
// thread; the test reads the counters after the answers (or timeouts) came back.
class TestHandler final : public MessageHandler {
 public:
  std::vector<std::optional<iso8583::Message>> Handle(
      std::span<const iso8583::Message> messages) override {
    ++calls;
    if (throw_next.exchange(false)) throw std::runtime_error("test handler failure");
    std::vector<std::optional<iso8583::Message>> out;
    for (const auto& m : messages) {
      ++messages_seen;
      auto request = FromMessage(m);
      CardResponse response;
      if (request) {
        response.response_code = "00";
        response.auth_code = "TST001";
        response.approved_minor = request->amount_minor;
      } else {
        response.response_code = "30";  // format error
      }
      out.push_back(ToResponseMessage(m, response));
    }
    return out;
  }
  std::atomic<int> calls{0};
  std::atomic<int> messages_seen{0};
  std::atomic<bool> throw_next{false};
};

// A raw POSIX connection for what the client never sends (garbage, bare echoes). Reads give up
// after 5 s so that a broken server fails the test instead of hanging it.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }
  bool Write(const std::string& bytes) {
    return write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }
  // The next frame's message bytes; empty when the server closed the connection (or on error).
  std::string ReadFrame() {
    std::string header = ReadExactly(2);
    if (header.size() < 2) return "";
    const size_t len = (static_cast<uint8_t>(header[0]) << 8) | static_cast<uint8_t>(header[1]);
    return ReadExactly(len);
  }
  // True when the server closed the connection (read returns end of file).
  bool ClosedByServer() {
    char buf[16];
    return read(fd_, buf, sizeof buf) == 0;
  }

 private:
  std::string ReadExactly(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      const ssize_t r = read(fd_, out.data() + got, n - got);
      if (r <= 0) return "";
      got += static_cast<size_t>(r);
    }
    return out;
  }
  int fd_ = -1;
  bool connected_ = false;
};

std::string EchoFrame(const std::string& stan) {
  auto bytes = iso8583::Encode(EchoRequest(stan, kT0));
  if (!bytes) return "";
  std::string f;
  f.push_back(static_cast<char>(bytes->size() >> 8));
  f.push_back(static_cast<char>(bytes->size() & 0xff));
  return f + *bytes;
}

class TcpNetworkTest : public ::testing::Test {
 protected:
  void Serve(const FaultConfig& faults = {}) {
    auto s = TcpNetworkServer::Start(handler_, faults, "127.0.0.1", 0);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
  }
  std::unique_ptr<TcpCardNetwork> Client(int64_t deadline_ms = 2'000) {
    TcpClientOptions o;
    o.deadline_ms = deadline_ms;
    auto c = TcpCardNetwork::Connect("127.0.0.1", server_->port(), o);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }
  // The first fault config (by seed) whose plan decides `faults` for its first messages.
  static FaultConfig SeedFor(FaultConfig config, const std::vector<Fault>& faults) {
    for (uint64_t seed = 1; seed < 100'000; ++seed) {
      config.seed = seed;
      FaultPlan plan(config);
      bool match = true;
      for (Fault f : faults) match = match && plan.Next().fault == f;
      if (match) return config;
    }
    ADD_FAILURE() << "no seed gives the wanted fault sequence";
    return config;
  }

  TestHandler handler_;
  std::unique_ptr<TcpNetworkServer> server_;
};

TEST_F(TcpNetworkTest, RoundTrip) {
  Serve();
  auto client = Client();
  ASSERT_TRUE(client);
  CardRequest one = Auth(1, 1234);
  auto r = client->Exchange({&one, 1});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->response_code, "00");
  EXPECT_EQ(r[0]->auth_code, "TST001");
  EXPECT_EQ(r[0]->approved_minor, 1234);
  EXPECT_EQ(handler_.messages_seen, 1);
  EXPECT_EQ(client->stats().sent, 1);
}

TEST_F(TcpNetworkTest, BatchOfFiftyIsMatchedByStan) {
  FaultConfig jitter;  // answers leave the server in a different order than the requests
  jitter.latency_min_ms = 0;
  jitter.latency_max_ms = 20;
  jitter.seed = 5;
  Serve(jitter);
  auto client = Client();
  std::vector<CardRequest> batch;
  for (int i = 1; i <= 50; ++i) batch.push_back(Auth(i, 1000 + i));
  auto out = client->Exchange(batch);
  ASSERT_EQ(out.size(), 50u);
  for (size_t k = 0; k < out.size(); ++k) {
    ASSERT_TRUE(out[k]) << k << ": " << out[k].error().message;
    EXPECT_EQ(out[k]->approved_minor, 1000 + static_cast<int64_t>(k) + 1);  // its own answer
  }
  EXPECT_EQ(handler_.messages_seen, 50);
  EXPECT_EQ(client->stats().sent, 50);
  EXPECT_EQ(client->stats().discarded, 0);
}

TEST_F(TcpNetworkTest, ARepeatedStanOrUnencodableRequestFailsAloneAndIsNotSent) {
  Serve();
  auto client = Client();
  std::vector<CardRequest> batch = {Auth(1, 10), Auth(1, 20), Auth(2, 30)};
  batch[2].currency = "ZZZ";  // no ISO 4217 code: ToMessage refuses it
  batch.push_back(Auth(3, 40));
  auto out = client->Exchange(batch);
  ASSERT_TRUE(out[0]) << out[0].error().message;
  EXPECT_EQ(out[0]->approved_minor, 10);
  ASSERT_FALSE(out[1]);
  EXPECT_EQ(out[1].error().code, ErrorCode::kInvalidArgument);
  ASSERT_FALSE(out[2]);
  EXPECT_EQ(out[2].error().code, ErrorCode::kInvalidCurrency);  // ToMessage's own error
  ASSERT_TRUE(out[3]) << out[3].error().message;
  EXPECT_EQ(out[3]->approved_minor, 40);
  EXPECT_EQ(handler_.messages_seen, 2);
}

TEST_F(TcpNetworkTest, EchoIsAnsweredByTheServerNotTheHandler) {
  Serve();
  auto client = Client();
  ASSERT_TRUE(client->Echo());
  ASSERT_TRUE(client->Echo());
  EXPECT_EQ(server_->stats().echoes, 2);
  EXPECT_EQ(client->stats().echoes, 2);
  EXPECT_EQ(handler_.calls, 0);
  // The raw 0800 -> 0810 exchange, field by field.
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Write(EchoFrame("900001")));
  auto answer = iso8583::Decode(raw.ReadFrame());
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->mti, 810);
  EXPECT_EQ(StanOf(*answer), "900001");
  EXPECT_EQ(answer->Get(iso8583::de::kResponseCode), "00");
  EXPECT_EQ(answer->Get(iso8583::de::kNetworkManagementCode), "301");
}

TEST_F(TcpNetworkTest, DroppedResponseTimesOutAfterTheHandlerRan) {
  FaultConfig faults;
  faults.drop_response_pct = 100;
  Serve(faults);
  auto client = Client(kShortDeadlineMs);
  CardRequest a = Auth(7);
  auto r = client->Exchange({&a, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
  EXPECT_NE(r[0].error().message.find("STAN 000007"), std::string::npos) << r[0].error().message;
  EXPECT_EQ(handler_.messages_seen, 1);  // applied; only the answer was lost
  EXPECT_EQ(client->stats().timeouts, 1);
}

TEST_F(TcpNetworkTest, DroppedRequestTimesOutAndNeverReachesTheHandler) {
  FaultConfig faults;
  faults.drop_request_pct = 100;
  Serve(faults);
  auto client = Client(kShortDeadlineMs);
  CardRequest a = Auth(1);
  auto r = client->Exchange({&a, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
  EXPECT_EQ(handler_.calls, 0);
}

TEST_F(TcpNetworkTest, DuplicateAnswerIsDiscardedAndTheNextExchangeGetsItsOwn) {
  FaultConfig faults;
  faults.duplicate_response_pct = 100;
  Serve(faults);
  auto client = Client();
  CardRequest a = Auth(1, 111);
  auto r = client->Exchange({&a, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->approved_minor, 111);
  CardRequest b = Auth(2, 222);
  r = client->Exchange({&b, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->approved_minor, 222);
  // At least the first duplicate arrived before the second exchange's answer (same connection,
  // sent in order) and was discarded.
  EXPECT_GE(client->stats().discarded, 1);
  EXPECT_EQ(handler_.messages_seen, 2);  // applied once each
}

TEST_F(TcpNetworkTest, LateAnswerIsDiscardedAndDoesNotConfuseLaterExchanges) {
  // Message 1 is answered 300 ms late (after its 200 ms deadline): it arrives while exchange 2
  // (whose answer is lost) is still waiting, and must not be taken for anyone's answer.
  FaultConfig faults;
  faults.late_response_pct = 30;
  faults.drop_response_pct = 30;
  faults.late_by_ms = kShortDeadlineMs + 100;
  faults = SeedFor(faults, {Fault::kLateResponse, Fault::kDropResponse, Fault::kNone});
  Serve(faults);
  auto client = Client(kShortDeadlineMs);
  CardRequest a = Auth(1, 111), b = Auth(2, 222), c = Auth(3, 333);
  auto r = client->Exchange({&a, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
  r = client->Exchange({&b, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
  r = client->Exchange({&c, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->approved_minor, 333);
  EXPECT_EQ(client->stats().discarded, 1);  // the late answer to message 1
  EXPECT_EQ(client->stats().timeouts, 2);
}

TEST_F(TcpNetworkTest, DisconnectFaultClosesWithoutHandlingAndTheClientReconnects) {
  FaultConfig faults;
  faults.disconnect_pct = 30;
  faults = SeedFor(faults, {Fault::kDisconnect, Fault::kNone});
  Serve(faults);
  auto client = Client();  // a long deadline: the close, not the deadline, ends the exchange
  CardRequest a = Auth(1, 111), b = Auth(2, 222);
  auto r = client->Exchange({&a, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);  // sent: the client cannot know
  EXPECT_EQ(handler_.calls, 0);
  r = client->Exchange({&b, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->approved_minor, 222);
  EXPECT_EQ(client->stats().reconnects, 1);
  EXPECT_EQ(server_->stats().connections, 2);
}

TEST_F(TcpNetworkTest, StoppedServerIsUnavailableAndANewServerServesANewClient) {
  Serve();
  auto client = Client();
  CardRequest a = Auth(1, 111);
  ASSERT_TRUE(client->Exchange({&a, 1})[0]);
  server_->Stop();
  server_->Stop();  // idempotent
  CardRequest b = Auth(2, 222);
  auto r = client->Exchange({&b, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkUnavailable) << r[0].error().message;
  EXPECT_EQ(client->stats().sent, 1);  // nothing was sent the second time
  EXPECT_EQ(client->stats().reconnects, 1);
  EXPECT_EQ(handler_.messages_seen, 1);
  const uint16_t old_port = server_->port();
  Serve();
  auto fresh = Client();
  ASSERT_TRUE(fresh);
  r = fresh->Exchange({&b, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->approved_minor, 222);
  // Nobody listens on the stopped server's port any more.
  auto none = TcpCardNetwork::Connect("127.0.0.1", old_port, TcpClientOptions{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNetworkUnavailable);
}

TEST_F(TcpNetworkTest, MalformedFramesCloseOnlyTheirConnection) {
  Serve();
  auto client = Client();
  const std::string garbage[] = {
      std::string("\x00\x05hello", 7),  // a frame that is no ISO 8583 message
      std::string("\xff\xff", 2),       // a length beyond kMessageBytesMax
      std::string("\x00\x00", 2),       // an empty frame
  };
  for (const std::string& bytes : garbage) {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.Write(bytes));
    EXPECT_TRUE(raw.ClosedByServer());
  }
  EXPECT_EQ(server_->stats().malformed, 3);
  EXPECT_EQ(handler_.calls, 0);
  CardRequest a = Auth(1, 111);
  auto r = client->Exchange({&a, 1});  // the others are still served
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->approved_minor, 111);
}

TEST_F(TcpNetworkTest, ConnectionsAreBounded) {
  Serve();
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 64; ++i) {  // the server's limit; each one is served
    open.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(open.back()->connected());
    ASSERT_TRUE(open.back()->Write(EchoFrame("9" + std::to_string(10000 + i))));
    ASSERT_FALSE(open.back()->ReadFrame().empty()) << i;
  }
  RawConnection one_more(server_->port());  // the kernel accepts; the server closes it
  ASSERT_TRUE(one_more.connected());
  EXPECT_TRUE(one_more.ClosedByServer());
  EXPECT_EQ(server_->stats().connections, 64);
}

TEST_F(TcpNetworkTest, HandlerExceptionClosesThatConnectionOnly) {
  Serve();
  auto client = Client();
  handler_.throw_next = true;
  CardRequest a = Auth(1, 111), b = Auth(2, 222);
  auto r = client->Exchange({&a, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);  // in doubt
  EXPECT_EQ(server_->stats().handler_errors, 1);
  r = client->Exchange({&b, 1});
  ASSERT_TRUE(r[0]) << r[0].error().message;
  EXPECT_EQ(r[0]->approved_minor, 222);
}

TEST(NetworkSimulatorTest, ServesUntilStopped) {
  TestHandler handler;
  std::atomic<bool> stop{false};
  std::promise<uint16_t> listening;
  auto port = listening.get_future();
  Result<void> result = MakeError(ErrorCode::kInternal, "not run");
  std::thread sim([&] {
    result = RunNetworkSimulator(
        handler, FaultConfig{}, "127.0.0.1:0", [&](uint16_t p) { listening.set_value(p); }, &stop);
  });
  const uint16_t p = port.get();
  ASSERT_NE(p, 0);
  auto client = TcpCardNetwork::Connect("127.0.0.1", p, TcpClientOptions{});
  ASSERT_TRUE(client) << client.error().message;
  CardRequest a = Auth(1, 111);
  auto r = (*client)->Exchange({&a, 1});
  EXPECT_TRUE(r[0]) << r[0].error().message;
  stop = true;
  sim.join();
  EXPECT_TRUE(result) << result.error().message;
}

TEST(NetworkSimulatorTest, RejectsABadListenAddressNamingTheFlag) {
  TestHandler handler;
  bool called = false;
  for (const char* bad : {"127.0.0.1", "nowhere:80", "127.0.0.1:99999", ""}) {
    auto r = RunNetworkSimulator(
        handler, FaultConfig{}, bad, [&](uint16_t) { called = true; }, nullptr);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind("--listen", 0), 0u) << r.error().message;
  }
  EXPECT_FALSE(called);
}

TEST(HostPortTest, ParsesAndNamesTheField) {
  auto ok = ParseHostPort("127.0.0.1:8583", "--listen");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->first, "127.0.0.1");
  EXPECT_EQ(ok->second, 8583);
  for (const char* bad : {"127.0.0.1", ":80", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:80x",
                          "127.0.0.1:70000", "example:80"}) {
    auto r = ParseHostPort(bad, "--listen");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message.rfind("--listen", 0), 0u) << r.error().message;
  }
}

// ---- with the real issuer simulator -----------------------------------------------------------

// Counts what reaches the issuer.
class CountingHandler final : public MessageHandler {
 public:
  explicit CountingHandler(MessageHandler& inner) : inner_(inner) {}
  std::vector<std::optional<iso8583::Message>> Handle(
      std::span<const iso8583::Message> m) override {
    calls += static_cast<int>(m.size());
    return inner_.Handle(m);
  }
  std::atomic<int> calls{0};

 private:
  MessageHandler& inner_;
};

class TcpIssuerTest : public ::testing::Test {
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
  }
  std::unique_ptr<TcpCardNetwork> Client(int64_t deadline_ms = 2'000) {
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

TEST_F(TcpIssuerTest, IssuerAnswersOverTcpAndHoldsWhatItApproved) {
  Serve();
  auto client = Client();
  std::vector<CardRequest> batch;
  for (int i = 1; i <= 20; ++i) {
    batch.push_back(Auth(i, i, i % 2 ? "4000000000000002" : "4242424242424242"));
  }
  auto out = client->Exchange(batch);
  for (size_t k = 0; k < out.size(); ++k) {
    ASSERT_TRUE(out[k]) << out[k].error().message;
    const int i = static_cast<int>(k) + 1;
    EXPECT_EQ(out[k]->response_code, i % 2 ? "05" : "00") << i;  // each answer to its request
    if (i % 2 == 0) {
      EXPECT_EQ(out[k]->approved_minor, i);
    }
  }
  EXPECT_EQ(counting_->calls, 20);
  auto held = issuer_->Payment("000000000004");
  ASSERT_TRUE(held && *held);
  EXPECT_EQ((*held)->held_minor, 4);
}

TEST_F(TcpIssuerTest, LostResponseLeavesTheIssuerHolding) {
  FaultConfig drop_response;
  drop_response.drop_response_pct = 100;
  Serve(drop_response);
  auto client = Client(kShortDeadlineMs);
  CardRequest b = Auth(2);
  auto r = client->Exchange({&b, 1});
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error().code, ErrorCode::kNetworkTimeout);
  EXPECT_EQ(counting_->calls, 1);
  auto held = issuer_->Payment("000000000002");
  ASSERT_TRUE(held && *held);
  EXPECT_EQ((*held)->held_minor, 100);
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
TEST_F(TcpIssuerTest, EngineOverTcpWithFaultsConservesMoney) {
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
  auto payments = pay::testing::ListPaymentJson(e, "acme", "", 1000);
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
