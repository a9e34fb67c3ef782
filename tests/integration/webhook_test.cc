// Webhooks against a real HTTP receiver on 127.0.0.1 (a port the kernel picks) that answers,
// fails, hangs past the client's timeout and recovers: signatures, at-least-once with backoff,
// the delivery log, giving up, disabling after sustained failure, manual redelivery, and a
// restart that loses nothing. Rounds run synchronously (Webhooks::RunOnce) on a manual clock.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"
#include "adapters/server/api_keys.h"
#include "adapters/server/server.h"
#include "adapters/server/webhooks.h"
#include "pay/engine.h"
#include "tests/support/commands.h"
#include "tests/support/temp_dir.h"

namespace pay::server {
namespace {

constexpr int64_t kT0 = 1'795'000'000'000;

// A blocking HTTP/1.1 receiver: one request per connection; answers `status`, or (hang) reads
// the request and answers nothing until the client gives up.
class Receiver {
 public:
  Receiver() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks"; }
  std::atomic<int> status{200};
  std::atomic<bool> hang{false};
  struct Got {
    std::string signature, body;
  };
  std::vector<Got> got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  // Waits (bounded, so that a regression fails instead of hanging) until `n` requests arrived.
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    return arrived_.wait_for(lock, std::chrono::seconds(30), [&] { return got_.size() >= n; });
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      size_t need = std::string::npos;
      while (in.size() < need) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        size_t head = in.find("\r\n\r\n");
        if (head != std::string::npos && need == std::string::npos) {
          size_t at = in.find("Content-Length: ");
          need = head + 4 + std::stoul(in.substr(at + 16));
        }
      }
      Got g;
      size_t at = in.find("Pay-Signature: ");
      if (at != std::string::npos) g.signature = in.substr(at + 15, in.find("\r\n", at) - at - 15);
      g.body = in.substr(in.find("\r\n\r\n") + 4);
      {
        std::lock_guard lock(mu_);
        got_.push_back(g);
      }
      arrived_.notify_all();
      if (!hang) {
        std::string r = "HTTP/1.1 " + std::to_string(status.load()) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        (void)!write(c, r.data(), r.size());
      } else {
        while (read(c, buf, sizeof buf) > 0) {}  // until the client closes
      }
      close(c);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<Got> got_;
};

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    network::IssuerOptions io;
    io.db_path = dir_.File("issuer.db");
    io.clock = &clock_;
    io.durable = false;
    auto issuer = network::Issuer::Open(io);
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::move(*issuer);
    network_ = std::make_unique<network::SimulatedCardNetwork>(*issuer_, network::FaultConfig{}, 1000);
    EngineOptions o;
    o.db_path = dir_.File("acquirer.db");
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    o.clock = &clock_;
    o.card_network = network_.get();
    o.card_fingerprint_key = "a test key of at least 16 bytes";
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    ASSERT_TRUE(engine_->Submit(testing::Cmd("m", CreateMerchantRequest{"shop", "USD", 0, 0})));
    OpenHooks();
  }
  void OpenHooks() {
    hooks_.reset();
    WebhookOptions w;
    w.timeout_ms = 300;
    w.backoff_base_ms = 1000;
    w.attempts_max = 4;
    w.disable_failures = 6;
    w.disable_after_ms = 5000;
    w.seed = 7;
    auto h = Webhooks::Open(dir_.File("acquirer.db"), clock_, w);
    ASSERT_TRUE(h) << h.error().message;
    hooks_ = std::move(*h);
  }
  std::string Authorize(const std::string& key, int64_t amount) {
    auto r = engine_->Submit(testing::Cmd(key, AuthorizeRequest{{"4242424242424242", "12/30", "123"}, amount, "USD"}));
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->payment_id : "";
  }
  std::vector<DeliveryAttempt> Round() {
    auto r = hooks_->RunOnce(*engine_, PostHttp, "test");
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<DeliveryAttempt>{};
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<network::Issuer> issuer_;
  std::unique_ptr<network::SimulatedCardNetwork> network_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Webhooks> hooks_;
  Receiver receiver_;
};

TEST_F(WebhookTest, DeliversSignedEventsItWantsFromItsCreationOn) {
  auto e = hooks_->Create("shop", receiver_.url(), {"payment.*"});
  ASSERT_TRUE(e) << e.error().message;
  const std::string id = Authorize("a1", 1000);
  ASSERT_TRUE(engine_->Submit(testing::Cmd("c1", CaptureRequest{id, 1000, true})));
  auto attempts = Round();
  ASSERT_EQ(attempts.size(), 2u);
  auto got = receiver_.got();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].body.find(R"("type":"payment.authorized")"), std::string::npos) << got[0].body;
  EXPECT_NE(got[1].body.find(R"("type":"payment.captured")"), std::string::npos) << got[1].body;
  const int64_t now_s = kT0 / 1000;
  EXPECT_TRUE(VerifyWebhookSignature(e->secret, got[0].signature, got[0].body, now_s));
  EXPECT_FALSE(VerifyWebhookSignature(e->secret, got[0].signature, got[0].body + " ", now_s));
  EXPECT_FALSE(VerifyWebhookSignature("whsec_other", got[0].signature, got[0].body, now_s));
  EXPECT_FALSE(VerifyWebhookSignature(e->secret, got[0].signature, got[0].body, now_s + 301));  // a replay
  EXPECT_TRUE(Round().empty());  // the cursor moved: nothing twice
  auto log = hooks_->Deliveries(e->id, 10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].outcome, "delivered");
  EXPECT_EQ((*log)[0].status, 200);
}

TEST_F(WebhookTest, FailuresAndTimeoutsAreRetriedWithBackoffUntilTheReceiverRecovers) {
  auto e = hooks_->Create("shop", receiver_.url(), {});
  ASSERT_TRUE(e);
  Authorize("a1", 1000);
  receiver_.status = 500;
  auto first = Round();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].outcome, "failed");
  EXPECT_EQ(first[0].status, 500);
  const int64_t due = first[0].next_attempt_ms;
  EXPECT_GE(due, kT0 + 500);  // the first delay, with jitter: 0.5-1 x 1 s
  EXPECT_LE(due, kT0 + 1000);
  EXPECT_TRUE(Round().empty());  // not due yet
  clock_.SetMs(due);
  receiver_.hang = true;  // the second attempt times out
  auto second = Round();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].error, "timeout");
  EXPECT_EQ(second[0].attempt, 2);
  EXPECT_GE(second[0].next_attempt_ms - due, 1000);  // doubled
  receiver_.hang = false;
  receiver_.status = 204;
  clock_.SetMs(second[0].next_attempt_ms);
  auto third = Round();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].outcome, "delivered");
  EXPECT_EQ(third[0].attempt, 3);
  clock_.AdvanceMs(3'600'000);
  EXPECT_TRUE(Round().empty());  // delivered once: no retry left
  auto found = hooks_->Find(e->id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->failures, 0);
}

TEST_F(WebhookTest, GivesUpAfterItsAttemptsAndDisablesAnEndpointThatKeepsFailing) {
  auto e = hooks_->Create("shop", receiver_.url(), {});
  ASSERT_TRUE(e);
  receiver_.status = 503;
  Authorize("a1", 1000);
  Authorize("a2", 1000);
  int64_t attempts = 0;
  std::string last_outcome;
  for (int round = 0; round < 10; ++round) {
    for (const auto& a : Round()) {
      ++attempts;
      last_outcome = a.outcome;
    }
    clock_.AdvanceMs(60'000);
  }
  EXPECT_EQ(attempts, 6);  // two events, three attempts each, then the endpoint was disabled
  auto found = hooks_->Find(e->id);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->enabled);
  EXPECT_NE(found->disabled_reason.find("6 attempts failed in a row"), std::string::npos) << found->disabled_reason;
  // Enabled again (its failure count reset), the retries go out; the fourth attempt is the last
  // allowed: failing, the deliveries are given up and not tried again.
  ASSERT_TRUE(hooks_->SetEnabled(e->id, true));
  auto last = Round();
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].outcome, "gave_up");
  EXPECT_EQ(last[0].attempt, 4);
  receiver_.status = 200;
  clock_.AdvanceMs(24 * 3'600'000);
  EXPECT_TRUE(Round().empty());
  auto log = hooks_->Deliveries(e->id, 100);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->size(), 8u);
  EXPECT_EQ(log->front().outcome, "gave_up");  // newest first
}

TEST_F(WebhookTest, ManualRedeliveryAndARestartLoseNothing) {
  auto e = hooks_->Create("shop", receiver_.url(), {});
  ASSERT_TRUE(e);
  Authorize("a1", 1000);
  ASSERT_EQ(Round().size(), 1u);
  auto events = engine_->ListEvents("shop", "", {}, 10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->items.size(), 1u);
  auto event = FindEvent(*engine_, "shop", events->items[0].id);
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_FALSE(FindEvent(*engine_, "other", events->items[0].id));
  ASSERT_TRUE(hooks_->Redeliver(*e, *event));
  Authorize("a2", 1000);
  OpenHooks();  // a restart between the commits and the round
  auto round = Round();
  ASSERT_EQ(round.size(), 2u);  // the redelivery and the new event
  auto got = receiver_.got();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].body, got[0].body);
}

// Two processes on one database: the holder of the lease delivers, the other waits until it
// lapses.
TEST_F(WebhookTest, OneProcessDeliversAtATime) {
  ASSERT_TRUE(hooks_->Create("shop", receiver_.url(), {}));
  Authorize("a1", 1000);
  ASSERT_EQ(Round().size(), 1u);  // "test" holds the lease now
  auto other = Webhooks::Open(dir_.File("acquirer.db"), clock_, hooks_->options());
  ASSERT_TRUE(other);
  Authorize("a2", 1000);
  auto none = (*other)->RunOnce(*engine_, PostHttp, "other");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  clock_.AdvanceMs(31'000);  // the holder went away: its lease lapses
  auto taken = (*other)->RunOnce(*engine_, PostHttp, "other");
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(taken->size(), 1u);
  EXPECT_EQ(receiver_.got().size(), 2u);
}

// paymentd's worker delivers in the background (the answer of the payment does not wait for it)
// and /metrics counts the attempts.
TEST_F(WebhookTest, PaymentdDeliversInTheBackgroundAndCountsAttempts) {
  auto e = hooks_->Create("shop", receiver_.url(), {"payment.authorized"});
  ASSERT_TRUE(e);
  auto keys = ApiKeys::Open(dir_.File("acquirer.db"), clock_);
  ASSERT_TRUE(keys) << keys.error().message;
  ServerOptions so;
  so.port = 0;
  so.webhooks = hooks_.get();
  so.webhook_poll_ms = 20;
  auto server = Server::Start(*engine_, **keys, so);
  ASSERT_TRUE(server) << server.error().message;
  Authorize("a1", 1000);
  ASSERT_TRUE(receiver_.WaitFor(1));
  EXPECT_NE(receiver_.got()[0].body.find(R"("type":"payment.authorized")"), std::string::npos);
  // Stop joins the worker after its round (delivered, recorded, counted).
  (*server)->Stop();
  EXPECT_NE((*server)->Metrics().find("paymentd_webhook_deliveries_total{outcome=\"delivered\"} 1"), std::string::npos)
      << (*server)->Metrics();
}

TEST(WebhookUrlTest, RefusesWhatIsNotAnHttpUrlNamingTheField) {
  EXPECT_TRUE(CheckWebhookUrl("https://example.com/hooks"));
  EXPECT_TRUE(CheckWebhookUrl("http://127.0.0.1:8080"));
  for (const char* bad : {"ftp://x", "https://", "https://u:p@x/", "http://x:0/", "http://x:99999/",
                          "http://x/a b", "example.com"}) {
    auto r = CheckWebhookUrl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message.rfind("url: ", 0), 0u) << r.error().message;
  }
}

TEST(WebhookSignatureTest, MalformedHeadersAreRefusedByName) {
  const std::string body = "{}";
  const std::string good = SignWebhook("whsec_x", 100, body);
  EXPECT_TRUE(VerifyWebhookSignature("whsec_x", good, body, 100));
  EXPECT_TRUE(VerifyWebhookSignature("whsec_x", "v1=00," + good, body, 100));  // any v1 may match
  for (const char* bad : {"", "t=100", "v1=ab", "t=x,v1=ab", "t=100,t=100,v1=ab"}) {
    EXPECT_FALSE(VerifyWebhookSignature("whsec_x", bad, body, 100)) << bad;
  }
}

}  // namespace
}  // namespace pay::server
