// paymentd's plain roles without a socket: the route table's patterns, the GCRA rate limit on a
// manual time line, API keys on a store of their own (the record format of existing databases),
// the authenticator's answers, and the HTTP statuses of the channel's error codes.

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "adapters/server/api_keys.h"
#include "adapters/server/authenticator.h"
#include "adapters/server/http_message.h"
#include "adapters/server/metrics.h"
#include "adapters/server/rate_limiter.h"
#include "adapters/server/router.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "core/record_kinds.h"
#include "tests/support/temp_dir.h"

namespace pay::server {
namespace {

HttpResponse Named(const char* name) {
  HttpResponse r;
  r.body = name;
  return r;
}

Router Table() {
  Router r;
  r.Add("GET", "/v1/payments", [](const Call&) -> Reply { return Named("list"); });
  r.Add("GET", "/v1/payments/{id}", [](const Call&) -> Reply { return Named("show"); });
  r.Add("POST", "/v1/payments/{id}/capture", [](const Call&) -> Reply { return Named("capture"); });
  r.Add("GET", "/v1/accounts/{id}/balance", [](const Call&) -> Reply { return Named("balance"); });
  r.Add("*", "/healthz", [](const Call&) -> Reply { return Named("health"); });
  return r;
}

TEST(RouterTest, MatchesMethodAndPatternAndDecodesTheId) {
  const Router r = Table();
  auto show = r.Find("GET", "/v1/payments/pay%5F1");
  ASSERT_TRUE(show);
  EXPECT_EQ(show->route->label(), "GET /v1/payments/{id}");
  EXPECT_EQ(show->id, "pay_1");
  EXPECT_EQ(r.Find("GET", "/v1/payments")->route->label(), "GET /v1/payments");
  EXPECT_FALSE(r.Find("POST", "/v1/payments"));
  EXPECT_FALSE(r.Find("DELETE", "/v1/payments/x"));
  EXPECT_EQ(r.Find("DELETE", "/healthz")->route->label(), "/healthz");  // any method
}

TEST(RouterTest, AnIdMayHoldSlashes) {
  const Router r = Table();
  auto balance = r.Find("GET", "/v1/accounts/m/acme/available/balance");
  ASSERT_TRUE(balance);
  EXPECT_EQ(balance->id, "m/acme/available");
  EXPECT_EQ(r.Find("GET", "/v1/accounts/m%2Facme%2Favailable/balance")->id, "m/acme/available");
  EXPECT_EQ(r.Find("POST", "/v1/payments/a/b/capture")->id, "a/b");
}

TEST(RouterTest, AnEmptyIdMayBeWrittenWithOneSlash) {
  const Router r = Table();
  auto capture = r.Find("POST", "/v1/payments/capture");
  ASSERT_TRUE(capture);
  EXPECT_EQ(capture->route->label(), "POST /v1/payments/{id}/capture");
  EXPECT_EQ(capture->id, "");
  EXPECT_EQ(r.Find("POST", "/v1/payments//capture")->id, "");
  EXPECT_FALSE(r.Find("POST", "/v1/paymentscapture"));
}

TEST(RouterTest, QueriesAreDecoded) {
  auto q = ParseQuery("merchant=ac%20me&limit=10&flag&after=pay_1");
  EXPECT_EQ(q.at("merchant"), "ac me");
  EXPECT_EQ(q.at("limit"), "10");
  EXPECT_EQ(q.count("flag"), 0u);
  EXPECT_EQ(PercentDecode("100%"), "100%");  // a stray '%' stays
}

TEST(RateLimiterTest, AllowsTheBurstThenTheRate) {
  RateLimiter limiter(/*rate_per_s=*/2, /*burst=*/3);
  const double t0 = 1000;
  EXPECT_TRUE(limiter.Check("k", t0).allowed);
  EXPECT_TRUE(limiter.Check("k", t0).allowed);
  EXPECT_TRUE(limiter.Check("k", t0).allowed);
  auto refused = limiter.Check("k", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_ms, 500);
  EXPECT_TRUE(limiter.Check("other", t0).allowed);  // per key
  EXPECT_FALSE(limiter.Check("k", t0 + 0.49).allowed);
  EXPECT_TRUE(limiter.Check("k", t0 + 0.5).allowed);
}

TEST(RateLimiterTest, ZeroRateIsNoLimit) {
  RateLimiter limiter(0, 5);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter.Check("k", 0).allowed);
}

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions o;
    o.create_if_missing = true;
    store_ = std::move(*store::OpenSqliteStore(dir_.File("keys.db"), o));
    ASSERT_TRUE(store_->BeginWrite());
    ASSERT_TRUE(store_->PutRecord({store::kMerchantRecord, "acme", "", 0, "merchant"}));
    ASSERT_TRUE(store_->Commit());
  }
  pay::testing::TempDir dir_;
  ManualClock clock_{1'795'000'000'000};
  std::unique_ptr<store::Store> store_;
};

TEST_F(ApiKeysTest, CreatedKeysAuthenticateAndKeepTheirScope) {
  ApiKeys keys(*store_, clock_);
  auto acme = keys.Create("acme", false);
  ASSERT_TRUE(acme) << acme.error().message;
  auto admin = keys.Create("", true);
  ASSERT_TRUE(admin);
  auto a = keys.Authenticate(*acme);
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->merchant, "acme");
  EXPECT_FALSE((*a)->admin);
  EXPECT_EQ((*a)->created_at_ms, clock_.NowMs());
  EXPECT_TRUE((*keys.Authenticate(*admin))->admin);
  std::string wrong = *acme;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_FALSE(*keys.Authenticate(wrong));
  EXPECT_FALSE(*keys.Authenticate("pk_short"));
  EXPECT_EQ(keys.Create("nobody", false).error().code, ErrorCode::kUnknownMerchant);
  EXPECT_EQ(keys.Create("acme", true).error().code, ErrorCode::kInvalidArgument);
}

// Databases made before keys moved out of the engine hold this record (kind 20); it must still
// authenticate, and new keys must be written the same way.
TEST_F(ApiKeysTest, TheStoredRecordFormatIsUnchanged) {
  const std::string id = "0123456789ab", secret(48, 'c');
  pay::Writer w;
  w.U8(1);
  w.Str(DigestBytes(Sha256(secret)));
  w.Str("acme");
  w.U8(0);
  w.I64(1'700'000'000'000);
  const std::string old_body = w.Take();
  ASSERT_TRUE(store_->BeginWrite());
  ASSERT_TRUE(store_->PutRecord({20, id, "acme", 0, old_body}));
  ASSERT_TRUE(store_->Commit());
  ApiKeys keys(*store_, clock_);
  auto key = keys.Authenticate("pk_" + id + "_" + secret);
  ASSERT_TRUE(key && *key);
  EXPECT_EQ((*key)->id, id);
  EXPECT_EQ((*key)->created_at_ms, 1'700'000'000'000);

  // New keys are of the second version: the first's fields, then the mode and the expiry.
  auto made = keys.Create("acme", false, "live");
  ASSERT_TRUE(made);
  ASSERT_EQ(made->substr(0, 8), "sk_live_");
  const std::string new_id = made->substr(8, 12), new_secret = made->substr(21);
  auto row = store_->FindRecord(kApiKeyRecord, new_id);
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->owner, "acme");
  pay::Writer expected;
  expected.U8(2);
  expected.Str(DigestBytes(Sha256(new_secret)));
  expected.Str("acme");
  expected.U8(0);
  expected.I64(clock_.NowMs());
  expected.Str("live");
  expected.I64(0);
  EXPECT_EQ((*row)->body, expected.Take());
}

// The mode is part of the key: a test key presented as live (or the reverse) is refused.
// Listing shows every key without its secret; a revoked key stops at once; a rolled key works
// until its expiry, beside the new one, and is rolled only once.
TEST_F(ApiKeysTest, KeysAreListedRevokedAndRolled) {
  ApiKeys keys(*store_, clock_);
  Authenticator auth(keys);
  const std::string test_key = *keys.Create("acme", false);
  ASSERT_EQ(test_key.substr(0, 8), "sk_test_");
  const std::string id = test_key.substr(8, 12);
  EXPECT_TRUE(*keys.Authenticate(test_key));
  EXPECT_FALSE(*keys.Authenticate("sk_live_" + test_key.substr(8)));
  EXPECT_EQ(keys.Create("acme", false, "prod").error().code, ErrorCode::kInvalidArgument);
  const std::string admin = *keys.Create("", true, "live");
  auto all = keys.List("", "", 10);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u);
  auto mine = keys.List("acme", "", 10);
  ASSERT_TRUE(mine && mine->size() == 1u);
  EXPECT_EQ(ApiKeyJson(mine->front()).find(test_key.substr(21)), std::string::npos) << "no secret";

  ASSERT_TRUE(auth.Authenticate("Bearer " + test_key));
  auto rolled = keys.Roll(id, 3'600'000);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(rolled->old_expires_at_ms, clock_.NowMs() + 3'600'000);
  EXPECT_TRUE(auth.Authenticate("Bearer " + test_key)) << "the old secret works until its expiry";
  EXPECT_TRUE(auth.Authenticate("Bearer " + rolled->key));
  EXPECT_EQ(keys.Roll(id, 0).error().code, ErrorCode::kInvalidArgument) << "rolled once";
  clock_.AdvanceMs(3'600'000);
  EXPECT_EQ(auth.Authenticate("Bearer " + test_key).error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(auth.Authenticate("Bearer " + rolled->key));

  const std::string new_id = rolled->key.substr(8, 12);
  ASSERT_TRUE(keys.Revoke(new_id));
  EXPECT_EQ(auth.Authenticate("Bearer " + rolled->key).error().code, ErrorCode::kUnauthenticated)
      << "a revoked key is forgotten at once by this process";
  EXPECT_EQ(keys.Revoke(new_id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(*keys.Authenticate(admin));
}

TEST_F(ApiKeysTest, AuthenticatorSaysUnauthenticatedWithItsChallenge) {
  ApiKeys keys(*store_, clock_);
  Authenticator auth(keys);
  const std::string key = *keys.Create("acme", false);
  EXPECT_EQ(auth.Authenticate("Bearer " + key)->merchant, "acme");
  EXPECT_EQ(auth.Authenticate("Bearer " + key)->merchant, "acme");  // remembered
  auto none = auth.Authenticate("");
  EXPECT_EQ(none.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(Authenticator::Challenge(""), "Bearer");
  auto bad = auth.Authenticate("Bearer pk_000000000000_" + std::string(48, '0'));
  EXPECT_EQ(bad.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(Authenticator::Challenge("Bearer x"), "Bearer error=\"invalid_token\"");
}

// Basic with the key as the user name (curl -u KEY:, as Stripe's examples do); malformed
// Basic credentials are unauthenticated, never a crash.
TEST_F(ApiKeysTest, BasicCredentialsCarryTheKeyAsTheUserName) {
  ApiKeys keys(*store_, clock_);
  Authenticator auth(keys);
  const std::string key = *keys.Create("acme", false);
  auto basic = [](const std::string& user_pass) {
    std::string out(4 * ((user_pass.size() + 2) / 3), '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                    reinterpret_cast<const unsigned char*>(user_pass.data()), static_cast<int>(user_pass.size()));
    return "Basic " + out;
  };
  for (const std::string& pass : {"", "x", "ab"}) {  // each padding length
    auto k = auth.Authenticate(basic(key + ":" + pass));
    ASSERT_TRUE(k) << pass << ": " << k.error().message;
    EXPECT_EQ(k->merchant, "acme");
  }
  for (const std::string& bad : {basic(key), basic(":"), basic("sk_test_nope:"), std::string("Basic "),
                                 std::string("Basic ===="), std::string("Basic a"), std::string("Basic !!!!"),
                                 "Basic " + std::string(2000, 'A')}) {
    auto k = auth.Authenticate(bad);
    ASSERT_FALSE(k) << bad;
    EXPECT_EQ(k.error().code, ErrorCode::kUnauthenticated) << bad;
  }
}

TEST(HttpMessageTest, ChannelErrorCodesKeepTheirStatuses) {
  EXPECT_EQ(StatusOf(MakeError(ErrorCode::kUnauthenticated, "")), 401u);
  EXPECT_EQ(StatusOf(MakeError(ErrorCode::kForbidden, "")), 403u);
  EXPECT_EQ(StatusOf(MakeError(ErrorCode::kRateLimited, "")), 429u);
  EXPECT_EQ(StatusOf(MakeError(ErrorCode::kVelocityLimited, "")), 402u);
  EXPECT_EQ(ErrorRetryAdvice(ErrorCode::kUnauthenticated), RetryAdvice::kDoNotRetry);
  EXPECT_EQ(ErrorRetryAdvice(ErrorCode::kForbidden), RetryAdvice::kDoNotRetry);
  EXPECT_EQ(ErrorRetryAdvice(ErrorCode::kRateLimited), RetryAdvice::kRetrySameKey);
}

}  // namespace

// Outcomes the writer hands to the registry: velocity hits by rule (names escaped), refusals and
// declines of authorizations by their codes, replays apart; input errors are not counted here.
TEST(MetricsTest, AnsweredCountsOutcomesByBoundedLabels) {
  MetricsRegistry m;
  Error velocity = MakeError(ErrorCode::kVelocityLimited, "velocity: refused");
  velocity.rule = "per-card \"1h\"";
  m.Answered(Operation::kAuthorize, velocity);
  m.Answered(Operation::kPush, velocity);
  m.Answered(Operation::kAuthorize, MakeError(ErrorCode::kInvalidArgument, "bad"));
  Outcome declined;
  declined.payment_status = "declined";
  declined.response_code = "51";
  m.Answered(Operation::kAuthorize, declined);
  Outcome replayed = declined;
  replayed.replayed = true;
  m.Answered(Operation::kAuthorize, replayed);
  Outcome void_;
  void_.payment_status = "voided";
  m.Answered(Operation::kVoidPayment, void_);
  const std::string t = m.Text();
  for (
      const char* line : {
          R"(paymentd_velocity_hits_total{rule="per-card \"1h\""} 2)",
          R"(paymentd_authorizations_total{result="refused",response_code="",reason="velocity_limited"} 1)",
          R"(paymentd_authorizations_total{result="declined",response_code="51",reason="insufficient_funds"} 1)",
          R"(paymentd_reversals_total{cause="void"} 1)",
          R"(paymentd_idempotent_replays_total 1)",
      }) {
    EXPECT_NE(t.find(std::string("\n") + line + "\n"), std::string::npos) << line << "\n" << t;
  }
  EXPECT_EQ(t.find("invalid_argument"), std::string::npos);
  EXPECT_EQ(t.find("paymentd_payments_in_doubt"), std::string::npos);  // no engine attached
}

}  // namespace pay::server
