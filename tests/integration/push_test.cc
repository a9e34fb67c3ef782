// Push payments through the engine against the issuer simulator: prefunding, disbursements with
// each test card, insufficient prefunding, P2P with its AFT reversed when the OCT is declined,
// status inquiries after timeouts, duplicate submissions from several threads, a crash with a
// disbursement in flight, and conservation across merchant, network and issuers after a faulty
// random run.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <map>
#include <thread>

#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"
#include "core/random.h"
#include "pay/engine.h"
#include "tests/support/payment_json.h"
#include "tests/support/pg_schema.h"
#include "tests/support/temp_dir.h"

namespace pay {
namespace {

constexpr int64_t kT0 = 1'795'000'000'000;

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
  int64_t v = 0;
  std::from_chars(json.data() + at + p.size(), json.data() + json.size(), v);
  return v;
}

class Switchable final : public CardNetwork {
 public:
  Switchable(network::Issuer& issuer, const network::FaultConfig& faults)
      : clean_(issuer, network::FaultConfig{}, 1000), faulty_(issuer, faults, 1000) {}
  std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> r) override {
    std::lock_guard lock(mu_);
    ++exchanges;
    return faults_on ? faulty_.Exchange(r) : clean_.Exchange(r);
  }
  bool faults_on = false;
  int exchanges = 0;

 private:
  std::mutex mu_;
  network::SimulatedCardNetwork clean_, faulty_;
};

// Every test runs on SQLite and on PostgreSQL (PAY_TEST_POSTGRES; a fresh schema per test,
// skipped and said so without it).
class PushTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (Postgres() && !pg_.available()) GTEST_SKIP() << pay::testing::PgSchema::kSkipReason;
    Open();
  }
  bool Postgres() const { return std::string(GetParam()) == "Postgres"; }
  std::string AcquirerDb() const { return Postgres() ? pg_.conninfo() : dir_.File("acquirer.db"); }

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
    network_ = std::make_unique<Switchable>(*issuer_, faults);
    EngineOptions o;
    o.db_path = AcquirerDb();
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    o.clock = &clock_;
    o.card_network = network_.get();
    o.card_fingerprint_key = "a test key of at least 16 bytes";
    if (!velocity.empty()) {
      o.velocity_config_path = dir_.File("velocity.toml");
      FILE* file = fopen(o.velocity_config_path.c_str(), "w");
      fputs(velocity.c_str(), file);
      fclose(file);
    }
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    ASSERT_TRUE(engine_->Submit(Cmd("merchant/acme", CreateMerchantRequest{"acme", "USD", 0, 0})));
  }

  static Command Cmd(std::string key, Request r, std::string merchant = "acme") {
    Command c;
    c.merchant = std::move(merchant);
    c.idempotency_key = std::move(key);
    c.request = std::move(r);
    return c;
  }
  static PushRequest Push(std::string pan, int64_t amount, std::string purpose = "FD") {
    return PushRequest{{std::move(pan), "", ""}, amount, "USD", std::move(purpose), "Acme Inc",
                       "INV-1", "Ada Lovelace"};
  }
  static P2pRequest P2p(std::string from, std::string to, int64_t amount) {
    return P2pRequest{{std::move(from), "12/30", ""}, {std::move(to), "", ""}, amount, "USD", "Sam", "Kim"};
  }
  Outcome Do(const std::string& key, Request r) {
    auto o = engine_->Submit(Cmd(key, std::move(r)));
    EXPECT_TRUE(o) << key << ": " << o.error().message;
    return o ? *o : Outcome{};
  }
  int64_t Balance(const std::string& account) {
    auto a = engine_->GetAccount(account);
    EXPECT_TRUE(a) << account;
    return a ? a->balance_minor() : 0;
  }
  void Fund(int64_t amount) { Do("fund-" + std::to_string(amount), FundRequest{amount, "USD", std::nullopt}); }

  // Both ledgers verify and, per payment, the issuers moved what the acquirer's books say.
  void ExpectConservation() {
    ASSERT_TRUE(engine_->Verify()->ok());
    ASSERT_TRUE(issuer_->Verify()->ok());
    auto views = issuer_->Payments();
    ASSERT_TRUE(views);
    std::map<std::string, network::IssuerPaymentView> by_rrn;
    for (const auto& v : *views) by_rrn[v.rrn] = v;
    auto list = pay::testing::ListPaymentJson(*engine_, "", "", 10000);
    ASSERT_TRUE(list);
    int64_t pushed = 0, funded = 0;
    for (const std::string& p : *list) {
      const std::string status = Text(p, "status");
      const std::string type = Text(p, "type");
      if (type.empty()) continue;
      auto view = [&](const std::string& rrn) {
        auto it = by_rrn.find(rrn);
        return it == by_rrn.end() ? network::IssuerPaymentView{} : it->second;
      };
      const auto oct = view(Text(p, "rrn"));
      const bool delivered = status == "completed" || status == "pending_credit";
      if (type == "push" || type == "p2p") {
        EXPECT_EQ(oct.credited_minor + oct.pending_credit_minor, delivered ? Int(p, "amount_minor") : 0) << p;
        if (delivered) pushed += Int(p, "amount_minor");
      }
      if (type == "p2p") {
        EXPECT_EQ(view(Text(p, "funding_rrn")).funded_minor, Int(p, "funded_minor")) << p;
        EXPECT_EQ(Int(p, "funded_minor"), delivered ? Int(p, "amount_minor") : 0) << p;
        funded += Int(p, "funded_minor");
      }
      if (type == "funding") {
        EXPECT_EQ(oct.funded_minor, Int(p, "funded_minor")) << p;
        funded += Int(p, "funded_minor");
      }
      EXPECT_NE(status, "unknown") << p;
      EXPECT_NE(status, "submitted") << p;
    }
    // What the network owes the recipients' issuers is what left the merchant's balance.
    EXPECT_EQ(Balance("acq/USD/network_payable"), pushed);
    EXPECT_EQ(Balance("acq/USD/network_receivable"), funded);
  }

  pay::testing::TempDir dir_;
  pay::testing::PgSchema pg_;
  ManualClock clock_{kT0};
  std::unique_ptr<network::Issuer> issuer_;
  std::unique_ptr<Switchable> network_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(PushTest, EachTestCardAndInsufficientPrefunding) {
  Fund(100000);
  struct Case {
    const char* pan;
    const char* status;
    const char* code;
  };
  const Case cases[] = {
      {"4242424242424242", "completed", "00"},
      {"4000000000000127", "declined", "57"},
      {"4000000000003220", "pending_credit", "00"},
      {"4000000000000341", "declined", "25"},    // no answer; the inquiry finds nothing applied
      {"4000000000000259", "completed", "00"},   // credited, answer lost; the inquiry says so
  };
  int n = 0;
  for (const Case& c : cases) {
    Outcome o = Do("push-" + std::to_string(++n), Push(c.pan, 1000));
    EXPECT_EQ(o.payment_status, c.status) << c.pan << " " << o.body;
    EXPECT_EQ(o.response_code, c.code) << c.pan;
    EXPECT_EQ(o.body.find(c.pan), std::string::npos);
  }
  EXPECT_EQ(Balance("m/acme/disbursement"), 100000 - 3000);
  Outcome too_much = Do("push-big", Push("4242424242424242", 97001));
  ASSERT_TRUE(too_much.declined);
  EXPECT_EQ(too_much.decline.code, ErrorCode::kOverdraft);
  EXPECT_EQ(Balance("m/acme/disbursement"), 97000);  // nothing held
  // The deferred credit reaches the recipient later.
  clock_.AdvanceMs(24LL * 3600 * 1000);
  auto released = issuer_->ReleaseDeferred();
  ASSERT_TRUE(released);
  EXPECT_EQ(*released, 1u);
  ExpectConservation();
}

TEST_P(PushTest, VelocityRuleOnTheRecipientCard) {
  Open({}, R"(
[[rule]]
name = "pushes-per-recipient-card"
operations = ["push", "p2p"]
key = ["recipient_card"]
[[rule.window]]
algorithm = "sliding_log"
window = "24h"
limit = 2
)");
  Fund(10000);
  Do("v1", Push("4242424242424242", 100));
  Do("v2", P2p("5555555555554444", "4242424242424242", 100));
  const int exchanges = network_->exchanges;
  auto third = engine_->Submit(Cmd("v3", Push("4242424242424242", 100)));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kVelocityLimited);
  EXPECT_EQ(third.error().response_code, "65");
  EXPECT_EQ(network_->exchanges, exchanges);  // refused before any network work
  EXPECT_EQ(Do("v4", Push("5555555555554444", 100)).payment_status, "completed");
  ExpectConservation();
}

TEST_P(PushTest, InvalidPushesNameTheField) {
  Fund(1000);
  struct Case {
    PushRequest r;
    const char* field;
  };
  for (Case c : {Case{Push("4242424242424242", 100, "XX"), "purpose"},
                 Case{Push("4242424242424241", 100), "card"},
                 Case{Push("4242424242424242", 0), "amount"},
                 Case{Push("4242424242424242", kCardAmountMinorMax + 1), "amount: at most 9999999999.99 USD"},
                 Case{PushRequest{{"4242424242424242", "", ""}, 100, "USD", "FD", "", "", ""}, "recipient_name"},
                 Case{PushRequest{{"4242424242424242", "", ""}, 100, "USD", "FD", "a|b", "", "Kim"}, "sender_name"}}) {
    auto r = engine_->Submit(Cmd("bad", c.r));
    ASSERT_FALSE(r) << c.field;
    EXPECT_EQ(r.error().message.rfind(c.field, 0), 0u) << r.error().message;
  }
  EXPECT_EQ(Balance("m/acme/disbursement"), 1000);
}

TEST_P(PushTest, FundingFromACardAndP2p) {
  Outcome f = Do("aft-1", FundRequest{5000, "USD", CardInput{"5555555555554444", "12/30", "123"}});
  EXPECT_EQ(f.payment_status, "completed");
  EXPECT_EQ(Balance("m/acme/disbursement"), 5000);
  Outcome declined = Do("aft-2", FundRequest{5000, "USD", CardInput{"4000000000000002", "12/30", ""}});
  EXPECT_EQ(declined.payment_status, "declined");
  EXPECT_EQ(declined.response_code, "05");
  Outcome ok = Do("p2p-1", P2p("5555555555554444", "4242424242424242", 2000));
  EXPECT_EQ(ok.payment_status, "completed") << ok.body;
  EXPECT_EQ(Int(ok.body, "funded_minor"), 2000);
  // The OCT is declined: the AFT is reversed; the sender is not charged.
  Outcome oct_declined = Do("p2p-2", P2p("5555555555554444", "4000000000000127", 2000));
  EXPECT_EQ(oct_declined.payment_status, "declined") << oct_declined.body;
  EXPECT_EQ(oct_declined.response_code, "57");
  EXPECT_EQ(Int(oct_declined.body, "funded_minor"), 0);
  Outcome funding_declined = Do("p2p-3", P2p("4000000000009995", "4242424242424242", 2000));
  EXPECT_EQ(funding_declined.payment_status, "funding_declined");
  EXPECT_EQ(funding_declined.response_code, "51");
  Outcome luhn = Do("p2p-4", P2p("4242424242424241", "4242424242424242", 2000));
  EXPECT_EQ(luhn.payment_status, "funding_declined");
  EXPECT_EQ(luhn.response_code, "14");
  // An AFT without an answer is reversed; nothing is pushed.
  Outcome silent = Do("p2p-5", P2p("4000000000000341", "4242424242424242", 2000));
  EXPECT_EQ(silent.payment_status, "reversed") << silent.body;
  EXPECT_EQ(Balance("m/acme/disbursement"), 5000);  // P2P leaves the prefunded balance as it was
  ExpectConservation();
}

TEST_P(PushTest, StatusInquiryResolvesAnUnansweredDisbursement) {
  Fund(10000);
  network::FaultConfig f;
  f.drop_response_pct = 100;
  Open(f);
  network_->faults_on = true;
  // The OCT is applied, its answer lost; the inquiry's answer is lost too: unknown.
  Outcome o = Do("push-1", Push("4242424242424242", 1500));
  EXPECT_EQ(o.payment_status, "unknown");
  EXPECT_EQ(Balance("m/acme/disbursement"), 10000);  // held, not yet posted
  auto again = engine_->Submit(Cmd("push-1", Push("4242424242424242", 1500)));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kIdempotencyKeyInFlight);
  const int exchanges = network_->exchanges;
  network_->faults_on = false;
  auto left = engine_->ResolvePending();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 0u);
  EXPECT_EQ(network_->exchanges, exchanges + 1);  // one inquiry, never a second OCT
  auto show = pay::testing::ShowPaymentJson(*engine_, o.payment_id);
  EXPECT_EQ(Text(*show, "status"), "completed") << *show;
  EXPECT_EQ(Balance("m/acme/disbursement"), 8500);
  Outcome replay = Do("push-1", Push("4242424242424242", 1500));
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.payment_status, "completed");
  ExpectConservation();
}

TEST_P(PushTest, DuplicateSubmissionsFromSeveralThreadsPayOnce) {
  Fund(100000);
  std::vector<std::thread> threads;
  std::atomic<int> executed{0}, replays{0}, in_flight{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto r = engine_->Submit(Cmd("payout-42", Push("4242424242424242", 1234)));
        if (!r) {
          if (r.error().code == ErrorCode::kIdempotencyKeyInFlight) ++in_flight;
          continue;
        }
        if (r->replayed) ++replays; else ++executed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(executed.load(), 1);
  EXPECT_EQ(executed + replays + in_flight, 40);
  EXPECT_EQ(Balance("m/acme/disbursement"), 100000 - 1234);
  ExpectConservation();
}

// A crash with the OCT applied at the issuer and its answer never recorded: after the restart
// the inquiry finds it completed; no second OCT, no double payment.
TEST_P(PushTest, CrashWithADisbursementInFlight) {
  Fund(10000);
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
    (void)(*e)->Submit(Cmd("payout-crash", Push("4242424242424242", 700)));
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  clock_.AdvanceMs(60'000);
  Open();
  EXPECT_EQ(engine_->recovery().payments_in_doubt, 1u);
  auto list = pay::testing::ListPaymentJson(*engine_, "acme", "", 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(Text((*list)[0], "status"), "completed") << (*list)[0];
  EXPECT_EQ(Balance("m/acme/disbursement"), 10000 - 700);
  Outcome retry = Do("payout-crash", Push("4242424242424242", 700));
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.payment_status, "completed");
  ExpectConservation();
}

TEST_P(PushTest, RandomFaultyRunConservesMoneyOnEverySide) {
  network::FaultConfig f;
  f.drop_request_pct = 5;
  f.drop_response_pct = 8;
  f.duplicate_response_pct = 3;
  f.disconnect_pct = 2;
  const uint64_t seed = 5150;
  f.seed = seed;
  Open(f);
  SCOPED_TRACE("seed " + std::to_string(seed));
  Fund(1'000'000);
  network_->faults_on = true;
  Random rnd(seed);
  const char* recipients[] = {"4242424242424242", "5555555555554444", "4000000000000127",
                              "4000000000003220", "4000000000000341", "4000000000000259"};
  const char* senders[] = {"5555555555554444", "4242424242424242", "4000000000000002",
                           "4000000000000341", "4000000000000259"};
  int completed = 0;
  for (int step = 0; step < 300; ++step) {
    const std::string key = "k" + std::to_string(step);
    Result<Outcome> r = MakeError(ErrorCode::kInternal, "");
    switch (rnd.Uniform(4)) {
      case 0: case 1:
        r = engine_->Submit(Cmd(key, Push(recipients[rnd.Uniform(6)], rnd.Range(1, 5000))));
        break;
      case 2:
        r = engine_->Submit(Cmd(key, P2p(senders[rnd.Uniform(5)], recipients[rnd.Uniform(6)], rnd.Range(1, 5000))));
        break;
      default:
        r = engine_->Submit(Cmd(key, FundRequest{rnd.Range(1, 5000), "USD",
                                                 CardInput{senders[rnd.Uniform(5)], "12/30", ""}}));
    }
    if (r && r->payment_status == "completed") ++completed;
    if (!r) {
      EXPECT_NE(r.error().code, ErrorCode::kStoreIo) << r.error().message;
    }
    ASSERT_TRUE(engine_->Verify()->ok()) << "after step " << step;
  }
  EXPECT_GT(completed, 50);
  network_->faults_on = false;
  auto left = engine_->ResolvePending();
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(*left, 0u);
  ExpectConservation();
}

INSTANTIATE_TEST_SUITE_P(Stores, PushTest, ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& i) { return std::string(i.param); });

}  // namespace
}  // namespace pay
