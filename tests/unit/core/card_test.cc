#include "core/card.h"

#include <gtest/gtest.h>

#include "core/time_format.h"

namespace pay::card {
namespace {

TEST(CardTest, TheDocumentedTestCardsAreLuhnValid) {
  for (const char* pan : {"4242424242424242", "5555555555554444", "4000000000000002",
                          "4000000000009995", "4000000000000069", "4000000000000119",
                          "4000000000000077", "4000000000000341", "4000000000000259",
                          "4000000000000127", "4000000000003220"}) {
    EXPECT_TRUE(ValidatePan(pan)) << pan;
  }
}

TEST(CardTest, RejectsBadNumbersNamingTheField) {
  for (const char* pan : {"4242424242424241", "", "42424242424", "42424242424242424242",
                          "4242 4242 4242 4242", "424242424242424a"}) {
    auto r = ValidatePan(pan, "--card");
    ASSERT_FALSE(r) << pan;
    EXPECT_EQ(r.error().message.rfind("--card:", 0), 0u);
  }
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_TRUE(LuhnValid("79927398713"));
}

TEST(CardTest, ParsesExpiryAndKnowsWhenItPassed) {
  auto e = ParseExpiry("12/28");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->year, 2028);
  EXPECT_EQ(e->month, 12);
  EXPECT_EQ(ExpiryYymm(*e), "2812");
  EXPECT_EQ(ParseExpiry("0327")->month, 3);
  for (const char* bad : {"13/28", "00/28", "1/28", "12-28", "12/2028", "ab/cd", ""}) {
    EXPECT_FALSE(ParseExpiry(bad)) << bad;
  }
  EXPECT_FALSE(Expired(*e, *ParseRfc3339Ms("2028-12-31T23:59:59.999Z")));
  EXPECT_TRUE(Expired(*e, *ParseRfc3339Ms("2029-01-01T00:00:00Z")));
  EXPECT_TRUE(Expired(*ParseExpiry("06/26"), *ParseRfc3339Ms("2026-11-28T12:00:00Z")));
}

TEST(CardTest, KeepsOnlyAFingerprintBinAndLastFour) {
  const std::string key = "fingerprint-key-of-this-deployment";
  auto a = Protect("4242424242424242", key);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->bin, "424242");
  EXPECT_EQ(a->last4, "4242");
  EXPECT_EQ(a->Masked(), "424242...4242");
  EXPECT_EQ(a->fingerprint.size(), 64u);
  EXPECT_EQ(a->fingerprint.find("4242424242424242"), std::string::npos);
  EXPECT_EQ(Protect("4242424242424242", key)->fingerprint, a->fingerprint);  // stable
  EXPECT_NE(Protect("5555555555554444", key)->fingerprint, a->fingerprint);
  EXPECT_NE(Protect("4242424242424242", key + "2")->fingerprint, a->fingerprint);  // keyed
  EXPECT_FALSE(Protect("4242424242424241", key));
  EXPECT_FALSE(Protect("4242424242424242", "short"));
}

}  // namespace
}  // namespace pay::card
