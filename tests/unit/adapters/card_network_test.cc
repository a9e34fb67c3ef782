// The card network's message mapping, the fault plan and the issuer simulator (a real SQLite
// file, a manual clock), through the in-process network.

#include <gtest/gtest.h>

#include "adapters/network/card_messages.h"
#include "adapters/network/faults.h"
#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"
#include "tests/support/temp_dir.h"

namespace pay::network {
namespace {

constexpr int64_t kNow = 1'795'000'000'000;  // 2026-11-18

CardRequest Auth(std::string pan, int64_t amount, std::string stan, std::string rrn) {
  CardRequest r;
  r.type = CardMessageType::kAuthorization;
  r.pan = std::move(pan);
  r.expiry_yymm = "3012";
  r.amount_minor = amount;
  r.currency = "USD";
  r.merchant_id = "acme";
  r.stan = std::move(stan);
  r.rrn = std::move(rrn);
  r.transmitted_at_ms = kNow;
  return r;
}

CardRequest Follow(CardMessageType type, int64_t amount, std::string stan, std::string rrn,
                   std::string original) {
  CardRequest r;
  r.type = type;
  r.amount_minor = amount;
  r.currency = "USD";
  r.merchant_id = "acme";
  r.stan = std::move(stan);
  r.rrn = std::move(rrn);
  r.original_stan = std::move(original);
  r.transmitted_at_ms = kNow;
  return r;
}

TEST(CardMessagesTest, RequestsSurviveTheWireFormat) {
  for (CardRequest r : {Auth("4242424242424242", 2500, "000001", "000000000001"),
                        Follow(CardMessageType::kIncrement, 100, "000002", "000000000001", "000001"),
                        Follow(CardMessageType::kCapture, 100, "000003", "000000000001", "000001"),
                        Follow(CardMessageType::kReversal, 100, "000004", "000000000001", "000001"),
                        Follow(CardMessageType::kRefund, 100, "000005", "000000000001", "")}) {
    if (r.type == CardMessageType::kCapture) r.final_capture = true;
    if (r.type == CardMessageType::kAuthorization) r.cvv = "123";
    auto m = ToMessage(r);
    ASSERT_TRUE(m) << m.error().message;
    auto bytes = iso8583::Encode(*m);
    ASSERT_TRUE(bytes) << bytes.error().message;
    auto decoded = iso8583::Decode(*bytes);
    ASSERT_TRUE(decoded) << decoded.error().message;
    auto back = FromMessage(*decoded);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->type, r.type);
    EXPECT_EQ(back->stan, r.stan);
    EXPECT_EQ(back->rrn, r.rrn);
    EXPECT_EQ(back->amount_minor, r.amount_minor);
    EXPECT_EQ(back->currency, "USD");
    EXPECT_EQ(back->merchant_id, "acme");
    EXPECT_EQ(back->pan, r.pan);
    EXPECT_EQ(back->cvv, r.cvv);
    EXPECT_EQ(back->original_stan, r.original_stan);
    EXPECT_EQ(back->final_capture, r.final_capture);
    CardResponse answer{"10", "123456", 1250};
    auto response = ToResponseMessage(*decoded, answer);
    auto rb = iso8583::Encode(response);
    ASSERT_TRUE(rb) << rb.error().message;
    auto rd = iso8583::Decode(*rb);
    ASSERT_TRUE(rd) << rd.error().message;
    auto parsed = FromResponseMessage(*rd);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->response_code, "10");
    EXPECT_EQ(parsed->auth_code, "123456");
    EXPECT_EQ(parsed->approved_minor, 1250);
    EXPECT_EQ(StanOf(*rd), r.stan);
  }
}

TEST(CardMessagesTest, MalformedMessagesNameTheField) {
  iso8583::Message m;
  m.mti = 100;
  auto r = FromMessage(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("DE 3"), std::string::npos) << r.error().message;
  ASSERT_TRUE(m.Set(iso8583::de::kProcessingCode, "000000"));
  ASSERT_TRUE(m.Set(iso8583::de::kAmount, "000000000100"));
  ASSERT_TRUE(m.Set(iso8583::de::kStan, "000001"));
  ASSERT_TRUE(m.Set(iso8583::de::kRrn, "000000000001"));
  ASSERT_TRUE(m.Set(iso8583::de::kCurrency, "999"));
  r = FromMessage(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("DE 49"), std::string::npos) << r.error().message;
  ASSERT_TRUE(m.Set(iso8583::de::kCurrency, "840"));
  r = FromMessage(m);  // an authorization without a PAN
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("DE 2"), std::string::npos) << r.error().message;
  m.mti = 200;
  EXPECT_FALSE(FromMessage(m));
  EXPECT_FALSE(FromResponseMessage(iso8583::Message{}));
}

TEST(CardMessagesTest, EchoIsAnsweredWithTheSameStan) {
  auto echo = EchoRequest("000042", kNow);
  EXPECT_TRUE(IsEcho(echo));
  auto answer = EchoResponse(echo);
  EXPECT_EQ(answer.mti, 810);
  EXPECT_EQ(StanOf(answer), "000042");
  EXPECT_TRUE(iso8583::Encode(echo));
  EXPECT_TRUE(iso8583::Encode(answer));
}

TEST(FaultsTest, ParsesAndRejectsSpecs) {
  auto c = ParseFaultConfig("drop_request=5,drop_response=2.5,duplicate=1,late=1,disconnect=0.5,latency=1-20,seed=7");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_DOUBLE_EQ(c->drop_response_pct, 2.5);
  EXPECT_EQ(c->latency_max_ms, 20);
  EXPECT_EQ(c->seed, 7u);
  auto again = ParseFaultConfig(FaultConfigString(*c));
  ASSERT_TRUE(again);
  EXPECT_EQ(FaultConfigString(*again), FaultConfigString(*c));
  for (const char* bad : {"drop=5", "drop_request", "drop_request=101", "drop_request=-1",
                          "latency=5-1", "latency=x", "seed=abc", "drop_request=60,drop_response=60"}) {
    auto r = ParseFaultConfig(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("faults"), std::string::npos);
  }
}

TEST(FaultsTest, SamePlanForTheSameSeed) {
  FaultConfig c;
  c.drop_response_pct = 30;
  c.duplicate_response_pct = 20;
  c.latency_min_ms = 1;
  c.latency_max_ms = 50;
  c.seed = 99;
  FaultPlan a(c), b(c);
  int faults = 0;
  for (int i = 0; i < 1000; ++i) {
    auto x = a.Next(), y = b.Next();
    EXPECT_EQ(x.fault, y.fault);
    EXPECT_EQ(x.latency_ms, y.latency_ms);
    faults += x.fault != Fault::kNone;
  }
  EXPECT_GT(faults, 400);  // about half
  EXPECT_LT(faults, 600);
}

class IssuerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IssuerOptions o;
    o.db_path = dir_.path() + "/issuer.db";
    o.clock = &clock_;
    o.durable = false;
    auto issuer = Issuer::Open(o);
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::move(*issuer);
    network_ = std::make_unique<SimulatedCardNetwork>(*issuer_, FaultConfig{}, 1000);
  }
  Result<CardResponse> One(const CardRequest& r) { return network_->Exchange({&r, 1}).front(); }

  pay::testing::TempDir dir_;
  ManualClock clock_{kNow};
  std::unique_ptr<Issuer> issuer_;
  std::unique_ptr<SimulatedCardNetwork> network_;
};

TEST_F(IssuerTest, TestCardsAnswerAsDocumented) {
  struct Case {
    const char* pan;
    const char* code;  // nullptr: no answer
    int64_t approved;
  };
  const Case cases[] = {
      {"4242424242424242", "00", 1000}, {"5555555555554444", "00", 1000},
      {"4000000000000002", "05", 0},    {"4000000000009995", "51", 0},
      {"4000000000000069", "54", 0},    {"4000000000000119", "96", 0},
      {"4000000000000077", "10", 500},  {"4000000000000341", nullptr, 0},
      {"4000000000000259", nullptr, 0}, {"4111111111111111", "00", 1000},
  };
  int n = 0;
  for (const Case& c : cases) {
    ++n;
    char rrn[13], stan[7];
    std::snprintf(rrn, sizeof rrn, "%012d", n);
    std::snprintf(stan, sizeof stan, "%06d", n);
    auto r = One(Auth(c.pan, 1000, stan, rrn));
    if (c.code == nullptr) {
      ASSERT_FALSE(r) << c.pan;
      EXPECT_EQ(r.error().code, ErrorCode::kNetworkTimeout);
      continue;
    }
    ASSERT_TRUE(r) << c.pan << ": " << r.error().message;
    EXPECT_EQ(r->response_code, c.code) << c.pan;
    if (c.approved > 0) {
      EXPECT_EQ(r->approved_minor, c.approved) << c.pan;
      EXPECT_EQ(r->auth_code.size(), 6u);
    }
  }
  // What the issuer holds: the approvals, and the lost-response card (approved, answer lost).
  auto lost = issuer_->Payment("000000000009");
  ASSERT_TRUE(lost && *lost);
  EXPECT_EQ((*lost)->held_minor, 1000);
  auto silent = issuer_->Payment("000000000008");
  ASSERT_TRUE(silent);
  EXPECT_FALSE(*silent);  // no response, nothing held
  auto v = issuer_->Verify();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok());
}

TEST_F(IssuerTest, OpenToBuyLimitsHoldsAndExpiredCardsDecline) {
  auto big = One(Auth("4242424242424242", 1'000'001, "000001", "000000000001"));  // 10,000.01
  ASSERT_TRUE(big);
  EXPECT_EQ(big->response_code, "51");
  auto all = One(Auth("4242424242424242", 1'000'000, "000002", "000000000002"));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->response_code, "00");
  auto more = One(Auth("4242424242424242", 1, "000003", "000000000003"));
  ASSERT_TRUE(more);
  EXPECT_EQ(more->response_code, "51");  // the first hold took all the open-to-buy
  CardRequest expired = Auth("5555555555554444", 100, "000004", "000000000004");
  expired.expiry_yymm = "2001";
  EXPECT_EQ(One(expired)->response_code, "54");
  CardRequest bad_cvv = Auth("5555555555554444", 100, "000005", "000000000005");
  bad_cvv.cvv = "000";
  EXPECT_EQ(One(bad_cvv)->response_code, "05");
}

TEST_F(IssuerTest, CaptureIncrementReversalAndRefundMoveTheHold) {
  const std::string rrn = "000000000001";
  ASSERT_EQ(One(Auth("4242424242424242", 1000, "000001", rrn))->response_code, "00");
  ASSERT_EQ(One(Follow(CardMessageType::kIncrement, 500, "000002", rrn, "000001"))->response_code, "00");
  EXPECT_EQ((*issuer_->Payment(rrn))->held_minor, 1500);
  ASSERT_EQ(One(Follow(CardMessageType::kCapture, 400, "000003", rrn, "000001"))->response_code, "00");
  auto p = *issuer_->Payment(rrn);
  EXPECT_EQ(p->held_minor, 1100);
  EXPECT_EQ(p->captured_minor, 400);
  // A retransmission of the capture is answered from the record, not applied again.
  ASSERT_EQ(One(Follow(CardMessageType::kCapture, 400, "000003", rrn, "000001"))->response_code, "00");
  EXPECT_EQ((*issuer_->Payment(rrn))->captured_minor, 400);
  EXPECT_EQ(issuer_->stats().duplicates, 1);
  // Reversing the increment takes 500 off the hold; reversing it again does nothing.
  ASSERT_EQ(One(Follow(CardMessageType::kReversal, 500, "000004", rrn, "000002"))->response_code, "00");
  EXPECT_EQ((*issuer_->Payment(rrn))->held_minor, 600);
  ASSERT_EQ(One(Follow(CardMessageType::kReversal, 500, "000005", rrn, "000002"))->response_code, "00");
  EXPECT_EQ((*issuer_->Payment(rrn))->held_minor, 600);
  // A final capture releases the rest; a refund gives part back.
  CardRequest last = Follow(CardMessageType::kCapture, 100, "000006", rrn, "000001");
  last.final_capture = true;
  ASSERT_EQ(One(last)->response_code, "00");
  p = *issuer_->Payment(rrn);
  EXPECT_EQ(p->held_minor, 0);
  EXPECT_EQ(p->captured_minor, 500);
  ASSERT_EQ(One(Follow(CardMessageType::kRefund, 200, "000007", rrn, ""))->response_code, "00");
  EXPECT_EQ(One(Follow(CardMessageType::kRefund, 301, "000008", rrn, ""))->response_code, "13");
  EXPECT_EQ((*issuer_->Payment(rrn))->refunded_minor, 200);
  EXPECT_TRUE(issuer_->Verify()->ok());
}

TEST_F(IssuerTest, ReversalOfALostResponseReleasesTheHold) {
  const std::string rrn = "000000000001";
  EXPECT_FALSE(One(Auth("4000000000000259", 1000, "000001", rrn)));
  EXPECT_EQ((*issuer_->Payment(rrn))->held_minor, 1000);
  ASSERT_EQ(One(Follow(CardMessageType::kReversal, 1000, "000002", rrn, "000001"))->response_code, "00");
  EXPECT_EQ((*issuer_->Payment(rrn))->held_minor, 0);
  // A reversal of something the issuer never saw is acknowledged and changes nothing.
  ASSERT_EQ(One(Follow(CardMessageType::kReversal, 1000, "000003", "000000000099", "000001"))->response_code, "00");
  EXPECT_TRUE(issuer_->Verify()->ok());
}

TEST_F(IssuerTest, FaultsDropAndDelayAnswersDeterministically) {
  FaultConfig c;
  c.drop_request_pct = 20;
  c.drop_response_pct = 20;
  c.disconnect_pct = 10;
  c.latency_min_ms = 0;
  c.latency_max_ms = 1500;  // above the 1000 ms deadline now and then: late
  c.seed = 5;
  SimulatedCardNetwork faulty(*issuer_, c, 1000);
  std::vector<CardRequest> batch;
  for (int i = 1; i <= 200; ++i) {
    char rrn[13], stan[7];
    std::snprintf(rrn, sizeof rrn, "%012d", i);
    std::snprintf(stan, sizeof stan, "%06d", i);
    batch.push_back(Auth("4242424242424242", 1, stan, rrn));
  }
  auto out = faulty.Exchange(batch);
  int answered = 0, timeouts = 0, unavailable = 0;
  for (const auto& r : out) {
    if (r) ++answered;
    else if (r.error().code == ErrorCode::kNetworkTimeout) ++timeouts;
    else if (r.error().code == ErrorCode::kNetworkUnavailable) ++unavailable;
  }
  EXPECT_EQ(answered + timeouts + unavailable, 200);
  EXPECT_GT(answered, 40);
  EXPECT_GT(timeouts, 40);
  EXPECT_GT(unavailable, 5);
  EXPECT_EQ(faulty.stats().timeouts, timeouts);
}

}  // namespace
}  // namespace pay::network
