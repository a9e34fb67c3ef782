// Card pull payments through the engine's public API, against the issuer simulator in its own
// SQLite file (the in-process network, the same ISO 8583 messages as over TCP): each test card,
// each transition, idempotency, faults with conservation across both ledgers, and a crash with
// an authorization in flight.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <tuple>
#include <utility>
#include <map>

#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"
#include "core/buffered_store.h"
#include "core/pg_connection.h"
#include "core/random.h"
#include "pay/engine.h"
#include "tests/support/commands.h"
#include "tests/support/payment_json.h"
#include "tests/support/pg_schema.h"
#include "tests/support/temp_dir.h"

namespace pay {
namespace {

constexpr int64_t kT0 = 1'795'000'000'000;  // 2026-11-18
constexpr int64_t kDay = 24LL * 3600 * 1000;

std::string Text(std::string_view json, std::string_view name) {
  std::string p = "\"" + std::string(name) + "\":\"";
  size_t at = json.find(p);
  if (at == std::string_view::npos) return {};
  at += p.size();
  return std::string(json.substr(at, json.find('"', at) - at));
}
int64_t Int(std::string_view json, std::string_view name) {
  std::string p = "\"" + std::string(name) + "\":";
  size_t at = json.find(p);
  if (at == std::string_view::npos) return -1;
  at += p.size();
  int64_t v = 0;
  std::from_chars(json.data() + at, json.data() + json.size(), v);
  return v;
}

// The real in-process network, whose faults a test can switch off (to drain the outbox).
class SwitchableNetwork final : public CardNetwork {
 public:
  SwitchableNetwork(network::Issuer& issuer, const network::FaultConfig& faults)
      : clean_(issuer, network::FaultConfig{}, 1000), faulty_(issuer, faults, 1000) {}
  std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> r) override {
    ++exchanges;
    if (auto g = std::exchange(gate, nullptr)) g();  // a test holds the exchange here, once
    return faults_on ? faulty_.Exchange(r) : clean_.Exchange(r);
  }
  std::function<void()> gate;
  bool faults_on = false;
  int exchanges = 0;

 private:
  network::SimulatedCardNetwork clean_, faulty_;
};

// Holds the network's next exchange until Open(); Reached() tells (within a bound, so that a
// regression fails instead of hanging) that an exchange got there.
class HeldExchange {
 public:
  explicit HeldExchange(SwitchableNetwork& network) : network_(network) {
    network.gate = [this] {
      entered_.set_value();
      released_.wait();
    };
  }
  ~HeldExchange() {
    if (reached_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) network_.gate = nullptr;
    Open();
  }
  bool Reached() {
    return reached_.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  }
  void Open() {
    if (!opened_) release_.set_value();
    opened_ = true;
  }

 private:
  SwitchableNetwork& network_;
  std::promise<void> entered_, release_;
  std::future<void> reached_ = entered_.get_future();
  std::shared_future<void> released_ = release_.get_future().share();
  bool opened_ = false;
};

// Every test runs three times: on the SQLite store as the engine opens it, on the same store
// behind core/buffered_store.h (write sets applied at commit, hot rows), injected, and on a
// PostgreSQL database the engine opens by its connection string (PAY_TEST_POSTGRES; a fresh
// schema per test, skipped and said so without it).
class PullTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (Postgres() && !pg_.available()) GTEST_SKIP() << pay::testing::PgSchema::kSkipReason;
    Open();
  }
  bool Postgres() const { return std::string(GetParam()) == "Postgres"; }
  std::string AcquirerDb() const { return Postgres() ? pg_.conninfo() : dir_.File("acquirer.db"); }

  int64_t exchange_grace_ms_ = -1;  // the engine's default unless set before Open()
  bool background_advices_ = false;
  int64_t advice_retry_ms_ = 1'000;
  std::string replica_;  // EngineOptions::replica_db_path unless empty

  void Open(const network::FaultConfig& faults = {}, const std::string& velocity = "") {
    engine_.reset();
    network_.reset();
    issuer_.reset();
    network::IssuerOptions io;
    io.db_path = dir_.File("issuer.db");
    io.clock = &clock_;
    io.durable = false;
    auto issuer = network::Issuer::Open(io);
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::move(*issuer);
    network_ = std::make_unique<SwitchableNetwork>(*issuer_, faults);
    EngineOptions o;
    o.db_path = AcquirerDb();
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    if (std::string(GetParam()) == "Buffered") InjectBufferedStore(o);
    o.clock = &clock_;
    o.card_network = network_.get();
    o.card_fingerprint_key = "a test key of at least 16 bytes";
    if (exchange_grace_ms_ >= 0) o.exchange_grace_ms = exchange_grace_ms_;
    o.background_advices = background_advices_;
    o.advice_retry_ms = advice_retry_ms_;
    o.replica_db_path = replica_;
    if (!velocity.empty()) {
      o.velocity_config_path = dir_.File("velocity.toml");
      FILE* f = fopen(o.velocity_config_path.c_str(), "w");
      fputs(velocity.c_str(), f);
      fclose(f);
    }
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    auto m = engine_->Submit(Cmd("merchant/acme", CreateMerchantRequest{"acme", "USD", 250, 30}));
    ASSERT_TRUE(m) << m.error().message;
  }

  static void InjectBufferedStore(EngineOptions& o) {
    store::StoreOptions so;
    so.create_if_missing = true;
    so.durability = store::Durability::kNormal;
    auto writer = store::OpenSqliteStore(o.db_path, so);
    ASSERT_TRUE(writer) << writer.error().message;
    o.store = std::make_shared<store::BufferedStore>(std::move(*writer), 64);
    auto reader = store::OpenSqliteStore(o.db_path, so);
    ASSERT_TRUE(reader) << reader.error().message;
    o.read_store = std::move(*reader);
  }

  static Command Cmd(std::string key, Request r, std::string merchant = "acme") {
    return testing::Cmd(std::move(key), std::move(r), std::move(merchant));
  }
  static AuthorizeRequest Auth(std::string pan, int64_t amount, std::string expiry = "12/30") {
    return AuthorizeRequest{{std::move(pan), std::move(expiry), "123"}, amount, "USD"};
  }
  Outcome Do(const std::string& key, Request r) {
    auto o = engine_->Submit(Cmd(key, std::move(r)));
    EXPECT_TRUE(o) << key << ": " << o.error().message;
    return o ? *o : Outcome{};
  }
  std::string Payment(const std::string& id) {
    auto j = pay::testing::ShowPaymentJson(*engine_, id);
    EXPECT_TRUE(j) << j.error().message;
    return j ? *j : std::string();
  }
  int64_t Balance(const std::string& account) {
    auto a = engine_->GetAccount(account);
    EXPECT_TRUE(a) << account;
    return a ? a->balance_minor() : 0;
  }

  // One random step of a payment's life: an authorization (always while `ids` is empty; its
  // payment joins `ids`), or a capture, void, refund or increment of one of the `recent` newest
  // payments (so that they mostly find live ones).
  Result<Outcome> RandomOperation(Random& rnd, const std::string& key,
                                  const std::vector<std::string>& cards,
                                  std::vector<std::string>& ids, size_t recent) {
    const int what = static_cast<int>(rnd.Uniform(9));
    if (what < 3 || ids.empty()) {
      auto r = engine_->Submit(Cmd(key, Auth(cards[rnd.Uniform(cards.size())], rnd.Range(1, 50000))));
      if (r && !r->payment_id.empty()) ids.push_back(r->payment_id);
      return r;
    }
    const std::string id = ids[ids.size() - 1 - rnd.Uniform(std::min(ids.size(), recent))];
    const int64_t amount = rnd.Range(1, 20000);
    switch (what) {
      case 3: case 4: return engine_->Submit(Cmd(key, CaptureRequest{id, amount, rnd.OneIn(3)}));
      case 5: return engine_->Submit(Cmd(key, VoidPaymentRequest{id}));
      case 6: case 7: return engine_->Submit(Cmd(key, RefundRequest{id, amount / 8 + 1}));
      default: return engine_->Submit(Cmd(key, IncrementRequest{id, amount}));
    }
  }

  // A process authorizes "order-crash" (7777) and dies once the issuer applied it, before the
  // answer: its payment is left pending with its exchange open. The fixture's engine is closed.
  // After CrashWithAnAuthorizationInFlight() and its recovery: the payment is reversed on both
  // sides, and the key that waited answers the reversed payment without moving anything.
  void ExpectTheCrashedAuthorizationReversed() {
    EXPECT_EQ(engine_->recovery().payments_in_doubt, 1u);
    std::string p = Payment("pay_000000000001");
    EXPECT_EQ(Text(p, "status"), "reversed") << p;
    auto view = issuer_->Payment("000000000001");
    ASSERT_TRUE(view && *view);
    EXPECT_EQ((*view)->held_minor, 0);  // the issuer released the hold
    Outcome retry = Do("order-crash", Auth("4242424242424242", 7777));
    EXPECT_TRUE(retry.replayed);
    EXPECT_EQ(retry.payment_status, "reversed");
    ExpectConservation();
  }

  void CrashWithAnAuthorizationInFlight() {
    engine_.reset();
    network_.reset();
    issuer_.reset();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ManualClock clock(kT0);
      network::IssuerOptions io;
      io.db_path = dir_.File("issuer.db");
      io.clock = &clock;
      auto issuer = network::Issuer::Open(io);
      if (!issuer) _exit(3);
      // The issuer applies the authorization, then the acquirer process dies before the answer.
      class Dying final : public CardNetwork {
       public:
        explicit Dying(network::Issuer& i) : net_(i, network::FaultConfig{}, 1000) {}
        std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> r) override {
          net_.Exchange(r);
          _exit(0);
        }
        network::SimulatedCardNetwork net_;
      } dying(**issuer);
      EngineOptions o;
      o.db_path = AcquirerDb();
      o.clock = &clock;
      o.card_network = &dying;
      o.card_fingerprint_key = "a test key of at least 16 bytes";
      auto e = Engine::Open(o);
      if (!e) _exit(4);
      Command c = Cmd("order-crash", Auth("4242424242424242", 7777));
      (void)(*e)->Submit(c);
      _exit(5);  // not reached: the network call exits
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }

  // Both ledgers verify, and for every payment the issuer holds, captured and refunded what the
  // acquirer's books say.
  void ExpectConservation() {
    auto v = engine_->Verify();
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->ok());
    auto iv = issuer_->Verify();
    ASSERT_TRUE(iv);
    EXPECT_TRUE(iv->ok());
    std::map<std::string, network::IssuerPaymentView> issuer;
    auto views = issuer_->Payments();
    ASSERT_TRUE(views);
    for (const auto& p : *views) issuer[p.rrn] = p;
    auto list = pay::testing::ListPaymentJson(*engine_, "", "", 10000);
    ASSERT_TRUE(list);
    for (const std::string& p : *list) {
      const std::string rrn = Text(p, "rrn");
      auto it = issuer.find(rrn);
      const int64_t held = it == issuer.end() ? 0 : it->second.held_minor;
      const int64_t captured = it == issuer.end() ? 0 : it->second.captured_minor;
      const int64_t refunded = it == issuer.end() ? 0 : it->second.refunded_minor;
      EXPECT_EQ(Int(p, "capturable_minor"), held) << p;
      EXPECT_EQ(Int(p, "captured_minor"), captured) << p;
      EXPECT_EQ(Int(p, "refunded_minor"), refunded) << p;
    }
  }

  pay::testing::TempDir dir_;
  pay::testing::PgSchema pg_;
  ManualClock clock_{kT0};
  std::unique_ptr<network::Issuer> issuer_;
  std::unique_ptr<SwitchableNetwork> network_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(PullTest, EachTestCardGivesItsDocumentedResult) {
  struct Case {
    const char* pan;
    const char* status;
    const char* code;
    int64_t authorized;
  };
  const Case cases[] = {
      {"4242424242424242", "authorized", "00", 1000}, {"5555555555554444", "authorized", "00", 1000},
      {"4000000000000002", "declined", "05", 0},      {"4000000000009995", "declined", "51", 0},
      {"4000000000000069", "declined", "54", 0},      {"4000000000000119", "declined", "96", 0},
      {"4000000000000077", "authorized", "10", 500},  {"4000000000000341", "reversed", "", 0},
      {"4000000000000259", "reversed", "", 0},        {"4242424242424241", "declined", "14", 0},
      {"6011000990139424", "authorized", "00", 1000},
  };
  int n = 0;
  for (const Case& c : cases) {
    Outcome o = Do("card-" + std::to_string(++n), Auth(c.pan, 1000));
    EXPECT_FALSE(o.declined) << c.pan;  // a network decline is a result, not a refusal
    EXPECT_EQ(o.payment_status, c.status) << c.pan;
    EXPECT_EQ(o.response_code, c.code) << c.pan;
    EXPECT_EQ(Int(o.body, "authorized_minor"), c.authorized) << c.pan;
    EXPECT_EQ(Text(o.body, "last4"), std::string(c.pan).substr(12)) << c.pan;
    EXPECT_EQ(o.body.find(c.pan), std::string::npos) << "the PAN must never be stored";
  }
  // An expired card is declined locally with 54 and never reaches the network.
  const int before = network_->exchanges;
  Outcome expired = Do("expired", Auth("4242424242424242", 1000, "10/26"));
  EXPECT_EQ(expired.payment_status, "declined");
  EXPECT_EQ(expired.response_code, "54");
  EXPECT_EQ(network_->exchanges, before);
  ExpectConservation();
  // The lost-response card ends with nothing held anywhere after its reversal.
  auto lost = issuer_->Payment(Text(Payment("pay_000000000009"), "rrn"));
  ASSERT_TRUE(lost && *lost);
  EXPECT_EQ((*lost)->held_minor, 0);
  EXPECT_EQ(Balance("acq/USD/network_receivable"), 0);
}

TEST_P(PullTest, AuthorizeCaptureInPartsRefundAndSettle) {
  Outcome a = Do("order-1", Auth("4242424242424242", 10000));
  ASSERT_EQ(a.payment_status, "authorized");
  const std::string id = a.payment_id;
  Outcome c1 = Do("cap-1", CaptureRequest{id, 3000, false});
  EXPECT_EQ(c1.payment_status, "partially_captured");
  EXPECT_EQ(Int(c1.body, "capturable_minor"), 7000);
  Outcome c2 = Do("cap-2", CaptureRequest{id, 2000, false});
  EXPECT_EQ(Int(c2.body, "captured_minor"), 5000);
  Outcome over = Do("cap-3", CaptureRequest{id, 5001, false});
  ASSERT_TRUE(over.declined);
  EXPECT_EQ(over.decline.code, ErrorCode::kCaptureExceedsAuthorized);
  EXPECT_EQ(over.decline.message, "amount: 50.01 USD exceeds the 50.00 USD still authorized on " + id);
  Outcome c3 = Do("cap-4", CaptureRequest{id, 1000, true});  // final: releases the other 4000
  EXPECT_EQ(c3.payment_status, "captured");
  EXPECT_EQ(Int(c3.body, "capturable_minor"), 0);
  EXPECT_EQ(Balance("m/acme/pending"), 6000);
  Outcome again = Do("cap-5", CaptureRequest{id, 1, false});
  ASSERT_TRUE(again.declined);
  EXPECT_EQ(again.decline.code, ErrorCode::kIllegalTransition);
  Outcome r1 = Do("ref-1", RefundRequest{id, 1000});
  EXPECT_EQ(r1.payment_status, "partially_refunded");
  Outcome r2 = Do("ref-2", RefundRequest{id, 5001});
  ASSERT_TRUE(r2.declined);
  EXPECT_EQ(r2.decline.code, ErrorCode::kRefundExceedsCaptured);
  EXPECT_EQ(r2.decline.message, "amount: refunds would total more than the 60.00 USD captured on " +
                                    id + " (50.00 USD left to refund)");
  ExpectConservation();
  auto s = engine_->Settle();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->payments, 1u);
  // Net 50.00; fee 2.5% + 0.30 = 1.55; the merchant gets 48.45.
  EXPECT_EQ(Balance("m/acme/available"), 4845);
  EXPECT_EQ(Balance("acq/USD/fees"), 155);
  EXPECT_EQ(Balance("m/acme/pending"), 0);
  EXPECT_EQ(Balance("acq/USD/network_receivable"), 0);
  EXPECT_EQ(Text(Payment(id), "status"), "settled");
  // A refund after settlement comes out of the available balance.
  Outcome r3 = Do("ref-3", RefundRequest{id, 4000});
  EXPECT_EQ(r3.payment_status, "partially_refunded");
  EXPECT_EQ(Balance("m/acme/available"), 845);
  Outcome r4 = Do("ref-4", RefundRequest{id, std::nullopt});  // the rest: 10.00, more than 8.45
  ASSERT_TRUE(r4.declined);
  EXPECT_EQ(r4.decline.code, ErrorCode::kOverdraft);
  ExpectConservation();
  auto second = engine_->Settle();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->payments, 0u);  // settled once
}

// Reads are typed views; their JSON is the body the operation answered with.
TEST_P(PullTest, ReadsAreTypedViewsRenderedAsTheOperationsAnswered) {
  Outcome a = Do("order-1", Auth("4242424242424242", 10000));
  Outcome c = Do("cap-1", CaptureRequest{a.payment_id, 2500, false});
  auto p = engine_->GetPayment(a.payment_id);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->status, PaymentStatus::kPartiallyCaptured);
  EXPECT_EQ(p->kind, PaymentKind::kPull);
  EXPECT_EQ(p->merchant, "acme");
  EXPECT_EQ(p->authorized_minor, 10000);
  EXPECT_EQ(p->captured_minor, 2500);
  EXPECT_EQ(p->capturable_minor, 7500);
  EXPECT_EQ(p->card.last4, "4242");
  ASSERT_EQ(p->history.size(), 2u);
  EXPECT_EQ(p->history[1].op, "capture");
  EXPECT_EQ(PaymentJson(*p), c.body);
  EXPECT_EQ(engine_->GetPayment("pay_999999999999").error().code, ErrorCode::kPaymentNotFound);
  Outcome b = Do("order-2", Auth("4242424242424242", 500));
  Outcome d = Do("order-3", Auth("4242424242424242", 700));
  // Pages of two, chained by the cursor; the last page has none.
  auto first = engine_->ListPayments("acme", "", 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].id, a.payment_id);
  EXPECT_EQ(first->next_after, b.payment_id);
  auto second = engine_->ListPayments("acme", first->next_after, 2);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].id, d.payment_id);
  EXPECT_TRUE(second->next_after.empty());
  EXPECT_TRUE(engine_->ListPayments("other", "", 10)->items.empty());
  auto merchants = engine_->ListMerchants("", 10);
  ASSERT_TRUE(merchants);
  ASSERT_EQ(merchants->items.size(), 1u);
  EXPECT_EQ(merchants->items[0].id, "acme");
  EXPECT_EQ(merchants->items[0].fee_bps, 250);
  EXPECT_EQ(merchants->items[0].fee_fixed_minor, 30);
}

// Reads have a connection of their own: they answer while a batch holds the writer and waits on
// the network, and they see what is committed (the claim: pending; the first payment's hold).
TEST_P(PullTest, ReadsDoNotWaitBehindANetworkExchange) {
  Outcome a = Do("order-1", Auth("4242424242424242", 1000));
  ASSERT_EQ(a.payment_status, "authorized");
  HeldExchange gate(*network_);
  std::thread writer([&] { (void)engine_->Submit(Cmd("order-2", Auth("4242424242424242", 2000))); });
  ASSERT_TRUE(gate.Reached());  // the batch is committed and its exchange is on the network
  // The reads run beside the held batch; a read that waited for the writer would never finish
  // while the gate is shut (bounded here so that such a regression fails instead of hanging).
  auto reads = std::async(std::launch::async, [&] {
    return std::make_tuple(engine_->GetPayment(a.payment_id), engine_->ListPayments("acme", "", 10),
                           engine_->GetAccount("m/acme/pending"));
  });
  const bool answered = reads.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  gate.Open();
  writer.join();
  ASSERT_TRUE(answered) << "a payment read waited behind the batch's network exchange";
  auto [earlier, page, pending] = reads.get();
  ASSERT_TRUE(pending) << pending.error().message;
  EXPECT_EQ(pending->balance_minor(), 0);  // a hold: the committed books, nothing posted yet
  EXPECT_EQ(pending->credits_pending_minor, 1000);
  ASSERT_TRUE(earlier) << earlier.error().message;
  EXPECT_EQ(earlier->status, PaymentStatus::kAuthorized);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[1].status, PaymentStatus::kPending);  // committed claim, no answer yet
  EXPECT_EQ(engine_->GetPayment(page->items[1].id)->status, PaymentStatus::kAuthorized);
}

// The network is off the writer's lock: while one batch waits for the card network, another
// batch is claimed and committed, and recovery leaves the exchange on the network alone (even
// with no grace at all) instead of declaring it lost.
TEST_P(PullTest, AnotherBatchCommitsWhileOneWaitsForTheNetwork) {
  exchange_grace_ms_ = 0;
  Open();
  HeldExchange gate(*network_);
  Result<Outcome> held = MakeError(ErrorCode::kInternal, "not run");
  std::thread writer([&] { held = engine_->Submit(Cmd("order-1", Auth("4242424242424242", 1000))); });
  ASSERT_TRUE(gate.Reached());  // the claim is committed and its exchange is on the network
  auto other = std::async(std::launch::async, [&] {
    auto m = engine_->Submit(Cmd("merchant/beta", CreateMerchantRequest{"beta", "USD", 100, 0}, "beta"));
    auto resolved = engine_->ResolvePending();
    return std::make_pair(std::move(m), std::move(resolved));
  });
  const bool answered = other.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  gate.Open();
  writer.join();
  ASSERT_TRUE(answered) << "a batch waited behind another batch's network exchange";
  auto [merchant, resolved] = other.get();
  ASSERT_TRUE(merchant) << merchant.error().message;
  ASSERT_TRUE(resolved) << resolved.error().message;
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_EQ(held->payment_status, "authorized");  // not made unknown by the recovery beside it
  EXPECT_EQ(engine_->recovery().payments_in_doubt, 0);
  ExpectConservation();
}

// With background advices (paymentd), no answer waits for the advices its batch queued: the
// capture is answered while its advice is held at the network; the engine's own thread
// delivers it, and nothing is left for ResolvePending (which waits for that thread's delivery).
TEST_P(PullTest, BackgroundDeliveryKeepsAdvicesOffTheAnswersPath) {
  background_advices_ = true;
  Open();
  Outcome a = Do("order-1", Auth("4242424242424242", 1000));
  ASSERT_EQ(a.payment_status, "authorized");
  HeldExchange gate(*network_);
  auto captured = std::async(std::launch::async, [&] {
    return engine_->Submit(Cmd("cap-1", CaptureRequest{a.payment_id, std::nullopt, false}));
  });
  const bool answered = captured.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  // The capture advice reaches the network from the engine's thread (this one never asked).
  const bool sent = gate.Reached();
  gate.Open();
  ASSERT_TRUE(answered) << "the capture's answer waited for its advice";
  ASSERT_TRUE(sent) << "no thread delivered the capture advice";
  auto c = captured.get();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->payment_status, "captured");
  const int exchanges = network_->exchanges;
  auto left = engine_->ResolvePending();  // waits for the deliverer's round, then finds nothing
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(*left, 0u);
  EXPECT_EQ(network_->exchanges, exchanges) << "the advice was left for ResolvePending to send";
  ExpectConservation();  // the issuer has the capture
}

TEST_P(PullTest, VoidIncrementAndIllegalTransitions) {
  Outcome a = Do("order-1", Auth("4242424242424242", 1000));
  Outcome inc = Do("inc-1", IncrementRequest{a.payment_id, 500});
  EXPECT_EQ(Int(inc.body, "authorized_minor"), 1500);
  EXPECT_EQ(Balance("m/acme/pending"), 0);
  Outcome v = Do("void-1", VoidPaymentRequest{a.payment_id});
  EXPECT_EQ(v.payment_status, "voided");
  ExpectConservation();
  for (auto [key, req, code] : std::initializer_list<std::tuple<const char*, Request, ErrorCode>>{
           {"x1", CaptureRequest{a.payment_id, std::nullopt, false}, ErrorCode::kIllegalTransition},
           {"x2", VoidPaymentRequest{a.payment_id}, ErrorCode::kIllegalTransition},
           {"x3", RefundRequest{a.payment_id, std::nullopt}, ErrorCode::kIllegalTransition},
           {"x4", IncrementRequest{a.payment_id, 1}, ErrorCode::kIllegalTransition}}) {
    Outcome o = Do(key, req);
    ASSERT_TRUE(o.declined) << key;
    EXPECT_EQ(o.decline.code, code) << key;
  }
  Outcome declined = Do("order-2", Auth("4000000000000002", 1000));
  Outcome cap = Do("x5", CaptureRequest{declined.payment_id, std::nullopt, false});
  ASSERT_TRUE(cap.declined);
  EXPECT_NE(cap.decline.message.find("declined"), std::string::npos) << cap.decline.message;
  // A captured payment cannot be voided.
  Outcome b = Do("order-3", Auth("4242424242424242", 1000));
  Do("cap-b", CaptureRequest{b.payment_id, std::nullopt, false});
  Outcome vb = Do("void-b", VoidPaymentRequest{b.payment_id});
  ASSERT_TRUE(vb.declined);
  // Unknown payments and other merchants' payments are not found (and not stored).
  auto missing = engine_->Submit(Cmd("x6", CaptureRequest{"pay_999999999999", std::nullopt, false}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kPaymentNotFound);
  auto other = engine_->Submit(Cmd("x7", CaptureRequest{b.payment_id, std::nullopt, false}, "evil"));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kPaymentNotFound);
  ExpectConservation();
}

TEST_P(PullTest, AuthorizationsExpireByTheEngineClock) {
  Outcome a = Do("order-1", Auth("4242424242424242", 1000));
  Outcome b = Do("order-2", Auth("4242424242424242", 1000));
  Do("cap-b", CaptureRequest{b.payment_id, 400, false});
  clock_.AdvanceMs(7 * kDay);
  Outcome late = Do("cap-a", CaptureRequest{a.payment_id, std::nullopt, false});
  ASSERT_TRUE(late.declined);
  EXPECT_EQ(late.decline.code, ErrorCode::kIllegalTransition);
  auto n = engine_->ExpirePayments(100);
  ASSERT_TRUE(n);
  EXPECT_EQ(Text(Payment(a.payment_id), "status"), "expired");
  EXPECT_EQ(Text(Payment(b.payment_id), "status"), "captured");  // 4.00 stands, 6.00 released
  EXPECT_EQ(Balance("m/acme/pending"), 400);
  ExpectConservation();
}

TEST_P(PullTest, IdempotentReplaysAndConflicts) {
  Outcome a = Do("order-1", Auth("4242424242424242", 1000));
  const int exchanges = network_->exchanges;
  Outcome again = Do("order-1", Auth("4242424242424242", 1000));
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.body, a.body);
  EXPECT_EQ(again.payment_id, a.payment_id);
  EXPECT_EQ(again.payment_status, "authorized");
  EXPECT_EQ(network_->exchanges, exchanges);  // nothing sent again
  auto other = engine_->Submit(Cmd("order-1", Auth("4242424242424242", 1001)));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kIdempotencyKeyReused);
  auto other_card = engine_->Submit(Cmd("order-1", Auth("5555555555554444", 1000)));
  ASSERT_FALSE(other_card);
  EXPECT_EQ(other_card.error().code, ErrorCode::kIdempotencyKeyReused);
  Outcome c = Do("cap-1", CaptureRequest{a.payment_id, 100, false});
  Outcome c_again = Do("cap-1", CaptureRequest{a.payment_id, 100, false});
  EXPECT_TRUE(c_again.replayed);
  EXPECT_EQ(c_again.body, c.body);
  EXPECT_EQ(Int(Payment(a.payment_id), "captured_minor"), 100);  // captured once
  // The same key under another merchant is another key.
  auto m2 = engine_->Submit(Cmd("merchant/beta", CreateMerchantRequest{"beta", "USD", 0, 0}, "beta"));
  ASSERT_TRUE(m2);
  auto beta = engine_->Submit(Cmd("order-1", Auth("4242424242424242", 1000), "beta"));
  ASSERT_TRUE(beta);
  EXPECT_FALSE(beta->replayed);
  EXPECT_NE(beta->payment_id, a.payment_id);
  ExpectConservation();
}

TEST_P(PullTest, InvalidInputNamesTheFieldAndStoresNothing) {
  for (auto [req, field] : std::initializer_list<std::pair<AuthorizeRequest, const char*>>{
           {Auth("4242x", 100), "card"},
           {Auth("4242424242424242", 100, "13/30"), "expiry"},
           {Auth("4242424242424242", 0), "amount"},
           {AuthorizeRequest{{"4242424242424242", "12/30", "12"}, 100, "USD"}, "cvv"},
           {AuthorizeRequest{{"4242424242424242", "12/30", ""}, 100, "usd"}, "currency"}}) {
    auto r = engine_->Submit(Cmd("bad", req));
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.error().message.rfind(field, 0), 0u) << r.error().message;
  }
  auto eur = engine_->Submit(Cmd("bad", AuthorizeRequest{{"4242424242424242", "12/30", ""}, 100, "EUR"}));
  ASSERT_FALSE(eur);
  EXPECT_EQ(eur.error().code, ErrorCode::kUnknownMerchant);
  auto nobody = engine_->Submit(Cmd("bad", Auth("4242424242424242", 100), "nobody"));
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code, ErrorCode::kUnknownMerchant);
  // The key was never used: it works now.
  Outcome ok = Do("bad", Auth("4242424242424242", 100));
  EXPECT_EQ(ok.payment_status, "authorized");
}

// ISO 8583 DE 4 carries 12 digits: a larger amount is refused before anything is written (it
// was accepted once, left in doubt for good, and its key answered 409 forever), and an
// increment may not grow an authorization past it.
TEST_P(PullTest, AnAmountTheNetworkCannotCarryIsRefusedUpFront) {
  const int exchanges = network_->exchanges;
  for (int64_t amount : {kCardAmountMinorMax + 1, int64_t{INT64_MAX}}) {
    auto r = engine_->Submit(Cmd("huge", Auth("4242424242424242", amount)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidAmount);
    EXPECT_EQ(r.error().message.rfind("amount: at most 9999999999.99 USD", 0), 0u) << r.error().message;
  }
  EXPECT_EQ(network_->exchanges, exchanges);
  // The largest amount that fits is sent and answered (beyond the card's open-to-buy: 51); the
  // key was never used.
  Outcome most = Do("huge", Auth("4242424242424242", kCardAmountMinorMax));
  EXPECT_EQ(most.payment_status, "declined");
  EXPECT_EQ(Text(most.body, "response_code"), "51");
  EXPECT_EQ(network_->exchanges, exchanges + 1);
  Outcome a = Do("small", Auth("4242424242424242", 1000));
  auto grow = engine_->Submit(Cmd("inc", IncrementRequest{a.payment_id, kCardAmountMinorMax - 999}));
  ASSERT_FALSE(grow);
  EXPECT_EQ(grow.error().code, ErrorCode::kAmountOverflow);
  EXPECT_NE(grow.error().message.find("9999999999.99 USD"), std::string::npos) << grow.error().message;
  EXPECT_EQ(network_->exchanges, exchanges + 2);
  Outcome v = Do("void", VoidPaymentRequest{a.payment_id});
  EXPECT_EQ(v.payment_status, "voided");
  ExpectConservation();
}

TEST_P(PullTest, VelocityRuleOnTheCardDeclinesBeforeTheNetwork) {
  Open({}, R"(
[[rule]]
name = "card-3-per-hour"
operations = ["authorize"]
key = ["card"]
measure = "count"
[[rule.window]]
algorithm = "fixed_window"
window = "1h"
limit = 3
)");
  for (int i = 0; i < 3; ++i) Do("v" + std::to_string(i), Auth("4242424242424242", 100));
  const int exchanges = network_->exchanges;
  auto r = engine_->Submit(Cmd("v3", Auth("4242424242424242", 100)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kVelocityLimited);
  EXPECT_EQ(r.error().response_code, "65");
  EXPECT_EQ(network_->exchanges, exchanges);
  Outcome other_card = Do("v4", Auth("5555555555554444", 100));
  EXPECT_EQ(other_card.payment_status, "authorized");
}

// Every change of a payment is an event written with it, numbered per merchant without gaps;
// a velocity refusal and a settlement are events too; listings page by id and filter by type.
TEST_P(PullTest, EachChangeIsAnEventNumberedPerMerchantInCommitOrder) {
  Open({}, R"(
[[rule]]
name = "card-1-per-hour"
operations = ["authorize"]
key = ["card"]
measure = "count"
[[rule.window]]
algorithm = "fixed_window"
window = "1h"
limit = 1
)");
  ASSERT_TRUE(engine_->Submit(Cmd("merchant/zeta", CreateMerchantRequest{"zeta", "USD", 0, 0}, "zeta")));
  const std::string id = Do("e1", Auth("4242424242424242", 5000)).payment_id;
  Do("e2", CaptureRequest{id, 5000, true});
  Do("e3", RefundRequest{id, 1000});
  Do("e4", Auth("4000000000000002", 700));  // declined by the issuer
  auto refused = engine_->Submit(Cmd("e5", Auth("4242424242424242", 100)));
  ASSERT_FALSE(refused);  // the card's second authorization in the hour
  auto z = engine_->Submit(Cmd("z1", Auth("5555555555554444", 300), "zeta"));
  ASSERT_TRUE(z) << z.error().message;
  ASSERT_TRUE(engine_->Settle());
  auto page = engine_->ListEvents("acme", "", {}, 100);
  ASSERT_TRUE(page) << page.error().message;
  std::vector<std::string> types;
  for (size_t i = 0; i < page->items.size(); ++i) {
    const EventView& e = page->items[i];
    types.push_back(e.type);
    EXPECT_EQ(e.number, static_cast<int64_t>(i + 1)) << e.type;
    EXPECT_EQ(e.merchant, "acme");
    if (i > 0) EXPECT_LT(page->items[i - 1].id, e.id);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"payment.authorized", "payment.captured",
                                             "payment.refunded", "payment.declined", "velocity.hit",
                                             "payment.settled", "settlement.completed"}));
  const EventView& hit = page->items[4];
  EXPECT_EQ(hit.object_id, "card-1-per-hour");
  EXPECT_EQ(hit.response_code, "65");
  const EventView& settled = page->items[6];
  EXPECT_EQ(settled.count, 1);
  EXPECT_EQ(settled.amount_minor, 4000);                       // captured less refunded
  EXPECT_EQ(settled.fee_minor, Balance("acq/USD/fees"));       // the books' fee
  EXPECT_NE(EventJson(page->items[3]).find(R"("decline_code":"do_not_honor")"), std::string::npos)
      << EventJson(page->items[3]);
  // zeta has its own numbers; every merchant's events in commit order when none is named.
  auto zeta = engine_->ListEvents("zeta", "", {}, 100);
  ASSERT_TRUE(zeta);
  ASSERT_EQ(zeta->items.size(), 1u);
  EXPECT_EQ(zeta->items[0].number, 1);
  auto all = engine_->ListEvents("", "", {}, 100);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), page->items.size() + 1);
  // A type filter and a cursor.
  auto captured = engine_->ListEvents("acme", "", EventFilter{"payment.c*"}, 100);
  ASSERT_TRUE(captured);
  ASSERT_EQ(captured->items.size(), 1u);
  EXPECT_EQ(captured->items[0].type, "payment.captured");
  auto first = engine_->ListEvents("acme", "", {}, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->next_after, first->items[1].id);
  auto rest = engine_->ListEvents("acme", first->next_after, {}, 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->items.front().number, 3);
  EXPECT_TRUE(rest->next_after.empty());
}

// A refused operation changes nothing and so writes no event; retention removes old events and
// only those.
TEST_P(PullTest, NoEventWithoutAChangeAndEventsAreKeptForTheirRetention) {
  const std::string id = Do("r1", Auth("4242424242424242", 5000)).payment_id;
  auto bad = engine_->Submit(Cmd("r2", CaptureRequest{id, 6000, false}));  // more than authorized
  ASSERT_TRUE(bad);
  EXPECT_TRUE(bad->declined);
  auto page = engine_->ListEvents("acme", "", {}, 100);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);  // the declined capture changed nothing
  clock_.AdvanceMs(31 * kDay);
  Do("r3", Auth("4242424242424242", 100));
  auto purged = engine_->PurgeEvents();
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 1u);
  page = engine_->ListEvents("acme", "", {}, 100);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 2u);  // r1 expired (by the batch of r3) and r3 authorized
  EXPECT_EQ(page->items[0].type, "payment.expired");
  EXPECT_EQ(page->items[0].number, 2);  // numbers go on
}

TEST_P(PullTest, RandomOperationsUnderFaultsConserveMoneyOnBothSides) {
  network::FaultConfig f;
  f.drop_request_pct = 5;
  f.drop_response_pct = 5;
  f.duplicate_response_pct = 3;
  f.late_response_pct = 3;
  f.disconnect_pct = 2;
  f.latency_max_ms = 200;
  const uint64_t seed = 20261129;
  f.seed = seed;
  Open(f);
  network_->faults_on = true;
  Random rnd(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  const std::vector<std::string> cards = {"4242424242424242", "5555555555554444",
                                          "4000000000000002", "4000000000000077",
                                          "4000000000000341", "4000000000000259",
                                          "4000000000009995"};
  std::vector<std::string> ids;
  for (int step = 0; step < 600; ++step) {
    const std::string key = "k" + std::to_string(step);
    if (rnd.Uniform(10) == 9) {
      clock_.AdvanceMs(rnd.Range(0, kDay / 2));
      (void)engine_->Settle();
      continue;
    }
    Result<Outcome> r = RandomOperation(rnd, key, cards, ids, 6);
    // Errors are allowed (in doubt, not found); a store failure is not.
    if (!r) {
      EXPECT_NE(r.error().code, ErrorCode::kStoreIo) << r.error().message;
      EXPECT_NE(r.error().code, ErrorCode::kInternal) << r.error().message;
    }
    auto v = engine_->Verify();
    ASSERT_TRUE(v && v->ok()) << "after step " << step;
  }
  // Deliver what is still queued over a clean network, then compare both sides.
  network_->faults_on = false;
  auto left = engine_->ResolvePending();
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(*left, 0u);
  ExpectConservation();
  auto list = pay::testing::ListPaymentJson(*engine_, "", "", 10000);
  std::map<std::string, int> statuses;
  int captured = 0, refunded = 0;
  for (const std::string& p : *list) {
    EXPECT_NE(Text(p, "status"), "unknown") << p;
    EXPECT_NE(Text(p, "status"), "pending") << p;
    ++statuses[Text(p, "status")];
    captured += Int(p, "captured_minor") > 0;
    refunded += Int(p, "refunded_minor") > 0;
  }
  // The run exercised the life of a payment, not only its errors.
  EXPECT_GE(captured, 10);
  EXPECT_GE(refunded, 3);
  EXPECT_GE(statuses["reversed"], 3);
  EXPECT_GE(statuses["declined"], 3);
  EXPECT_GE(statuses["voided"], 1);
}

// The same life under concurrency: three clients at once (their batches meet in the pipeline:
// one is claimed while another waits for the network), advices delivered in the background,
// faults on. Both books still agree payment by payment, and nothing is left unresolved.
TEST_P(PullTest, ConcurrentClientsUnderFaultsConserveMoneyOnBothSides) {
  network::FaultConfig f;
  f.drop_request_pct = 5;
  f.drop_response_pct = 5;
  f.duplicate_response_pct = 3;
  f.disconnect_pct = 2;
  f.seed = 20261201;
  background_advices_ = true;
  Open(f);
  network_->faults_on = true;
  const std::vector<std::string> cards = {"4242424242424242", "5555555555554444",
                                          "4000000000000002", "4000000000000341",
                                          "4000000000000259"};
  std::atomic<int> store_failures{0};
  auto client = [&](int k) {
    Random rnd(1000 + static_cast<uint64_t>(k));
    std::vector<std::string> ids;
    for (int step = 0; step < 200; ++step) {
      const std::string key = "c" + std::to_string(k) + "-" + std::to_string(step);
      Result<Outcome> r = RandomOperation(rnd, key, cards, ids, 4);
      if (!r && (r.error().code == ErrorCode::kStoreIo || r.error().code == ErrorCode::kInternal)) {
        ++store_failures;
      }
    }
  };
  {
    std::vector<std::thread> clients;
    for (int k = 0; k < 3; ++k) clients.emplace_back(client, k);
    for (std::thread& t : clients) t.join();
  }
  EXPECT_EQ(store_failures.load(), 0);
  network_->faults_on = false;
  auto left = engine_->ResolvePending();  // after the background deliverer's round
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(*left, 0u);
  ExpectConservation();
  auto list = pay::testing::ListPaymentJson(*engine_, "", "", 10000);
  ASSERT_TRUE(list);
  EXPECT_GE(list->size(), 100u);
  for (const std::string& p : *list) {
    EXPECT_NE(Text(p, "status"), "unknown") << p;
    EXPECT_NE(Text(p, "status"), "pending") << p;
  }
}

// A crash with an authorization in flight: the issuer approved and the acquirer died before it
// recorded the answer. After a restart the payment is unknown, then reversed; nothing is held.
TEST_P(PullTest, CrashWithAnAuthorizationInFlightIsReversedAtStartUp) {
  CrashWithAnAuthorizationInFlight();
  // Within the grace another process may still be waiting for the answer: left alone.
  Open();
  EXPECT_EQ(engine_->recovery().payments_in_doubt, 0u);
  EXPECT_EQ(Text(Payment("pay_000000000001"), "status"), "pending");
  auto busy = engine_->Submit(Cmd("order-crash", Auth("4242424242424242", 7777)));
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::kIdempotencyKeyInFlight);
  clock_.AdvanceMs(60'000);
  Open();  // start-up recovery: unknown -> reversal -> reversed
  ExpectTheCrashedAuthorizationReversed();
}

// The clock went back (two hours) between the crash and the restart: the exchange looks opened
// in the future, its age is unknown, and it is given up at once rather than left in flight (its
// key answering 409) until the clock catches up. Found by the fault campaign's clock jump.
TEST_P(PullTest, AnExchangeOpenedBeforeTheClockWentBackIsGivenUp) {
  CrashWithAnAuthorizationInFlight();
  clock_.SetMs(kT0 - 2 * 3600 * 1000);
  Open();
  ExpectTheCrashedAuthorizationReversed();
}

// paymentd resolves an exchange a crash left open by itself once the grace has passed, without
// a restart or `payment resolve`: its reversal goes out, and the key that waited answers again.
TEST_P(PullTest, TheBackgroundDelivererGivesUpAnExchangeLeftOpenPastTheGrace) {
  CrashWithAnAuthorizationInFlight();
  background_advices_ = true;
  advice_retry_ms_ = 1;
  Open();  // within the grace: left alone
  EXPECT_EQ(Text(Payment("pay_000000000001"), "status"), "pending");
  HeldExchange gate(*network_);
  clock_.AdvanceMs(60'000);
  const bool sent = gate.Reached();
  gate.Open();
  ASSERT_TRUE(sent) << "the reversal of the exchange left open never reached the network";
  const int exchanges = network_->exchanges;
  auto left = engine_->ResolvePending();  // after the deliverer's round
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(network_->exchanges, exchanges) << "the reversal was left for ResolvePending to send";
  ExpectTheCrashedAuthorizationReversed();
}

// Two writers on one database (two paymentd nodes). B's second phase fails (it cannot take the
// writer's lock to record its answer): B gives up its own exchange at once, but not the one A
// has on the network at that moment, however young: A's answer stands.
TEST_P(PullTest, AFailedSecondPhaseGivesUpOnlyItsOwnExchange) {
  HeldExchange held(*network_);
  Result<Outcome> a = MakeError(ErrorCode::kInternal, "not run");
  std::thread writer([&] { a = engine_->Submit(Cmd("order-a", Auth("4242424242424242", 1000))); });
  ASSERT_TRUE(held.Reached());  // A's claim is committed and its exchange is on the network
  store::StoreOptions so;
  so.durability = store::Durability::kNormal;
  so.busy_timeout_ms = 100;
  auto b_store = store::OpenStore(AcquirerDb(), so);
  auto blocker = store::OpenStore(AcquirerDb(), so);
  ASSERT_TRUE(b_store && blocker);
  SwitchableNetwork b_network(*issuer_, {});
  b_network.gate = [&] { ASSERT_TRUE((*blocker)->BeginWrite()); };  // B's answer waits in vain
  EngineOptions o;
  o.db_path = AcquirerDb();
  o.store = std::move(*b_store);
  o.clock = &clock_;
  o.card_network = &b_network;
  o.card_fingerprint_key = "a test key of at least 16 bytes";
  auto b = Engine::Open(o);
  ASSERT_TRUE(b) << b.error().message;
  auto failed = (*b)->Submit(Cmd("order-b", Auth("4242424242424242", 2000)));
  (*blocker)->Rollback();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kStoreBusy);
  // B's next batch gives up B's payment (unknown, reversal queued), and only that one.
  auto next = (*b)->Submit(Cmd("order-b2", Auth("4242424242424242", 3000)));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ((*b)->recovery().payments_in_doubt, 1u);
  held.Open();
  writer.join();
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->payment_status, "authorized");
  EXPECT_EQ(Text(Payment(a->payment_id), "status"), "authorized");
}

// Reads on a replica (EngineOptions::replica_db_path; here a second connection to the same
// server, which is no standby and so has every commit): each read runs there once the replica
// has the primary's WAL position of that moment, so a payment is read right after it is
// written. A replica that went away makes a read fall back to the primary, still answered; the
// next read connects to it again.
TEST_P(PullTest, ReadsRunOnTheReplicaAndFallBackToThePrimary) {
  if (!Postgres()) GTEST_SKIP() << "a PostgreSQL replica";
  replica_ = pg_.conninfo() + " application_name=pay_replica_test";
  Open();
  Outcome a = Do("order-1", Auth("4242424242424242", 1000));
  auto read = engine_->GetPayment(a.payment_id);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->status, PaymentStatus::kAuthorized);
  ASSERT_TRUE(engine_->GetAccount("m/acme/pending"));
  EXPECT_EQ(engine_->read_routing().on_replica, 2u);
  EXPECT_EQ(engine_->read_routing().on_primary, 0u);
  // The replica's connection is cut (as when its server goes away).
  auto admin = store::pg::Connection::Open(pg_.conninfo());
  ASSERT_TRUE(admin);
  ASSERT_TRUE((*admin)->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = 'pay_replica_test'", "cut"));
  Outcome b = Do("order-2", Auth("4242424242424242", 2000));
  auto after = engine_->GetPayment(b.payment_id);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->status, PaymentStatus::kAuthorized);
  EXPECT_EQ(engine_->read_routing().on_primary, 1u);
  // The next read connects to the replica again and runs there.
  ASSERT_TRUE(engine_->GetPayment(b.payment_id));
  EXPECT_EQ(engine_->read_routing().on_replica, 3u);
  EXPECT_EQ(engine_->read_routing().on_primary, 1u);
}

TEST_P(PullTest, UnknownPaymentBlocksOperationsUntilItsReversalIsAcknowledged) {
  network::FaultConfig f;
  f.drop_response_pct = 100;  // every answer is lost: authorizations become unknown
  Open(f);
  network_->faults_on = true;
  Outcome a = Do("order-1", Auth("4242424242424242", 1000));
  EXPECT_EQ(a.payment_status, "unknown");
  auto again = engine_->Submit(Cmd("order-1", Auth("4242424242424242", 1000)));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kIdempotencyKeyInFlight);
  auto cap = engine_->Submit(Cmd("cap", CaptureRequest{a.payment_id, std::nullopt, false}));
  ASSERT_FALSE(cap);
  EXPECT_EQ(cap.error().code, ErrorCode::kPaymentInDoubt);
  network_->faults_on = false;
  auto left = engine_->ResolvePending();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 0u);
  Outcome resolved = Do("order-1", Auth("4242424242424242", 1000));
  EXPECT_TRUE(resolved.replayed);
  EXPECT_EQ(resolved.payment_status, "reversed");
  ExpectConservation();
}

INSTANTIATE_TEST_SUITE_P(Stores, PullTest, ::testing::Values("Sqlite", "Buffered", "Postgres"),
                         [](const auto& i) { return std::string(i.param); });

}  // namespace
}  // namespace pay
