#include <gtest/gtest.h>

#include "pay/money.h"

namespace pay {
namespace {

TEST(CurrencyTest, KnowsExponentsAndNumericCodes) {
  ASSERT_NE(FindCurrency("USD"), nullptr);
  EXPECT_EQ(FindCurrency("USD")->exponent, 2);
  EXPECT_EQ(FindCurrency("USD")->numeric, 840);
  EXPECT_EQ(FindCurrency("EUR")->exponent, 2);
  EXPECT_EQ(FindCurrency("GBP")->numeric, 826);
  EXPECT_EQ(FindCurrency("JPY")->exponent, 0);
  EXPECT_EQ(FindCurrency("BHD")->exponent, 3);
  EXPECT_EQ(FindCurrencyByNumeric(978)->code, "EUR");
  EXPECT_EQ(FindCurrencyByNumeric(1), nullptr);
}

TEST(CurrencyTest, RejectsUnknownAndLowerCaseCodes) {
  EXPECT_EQ(FindCurrency("usd"), nullptr);
  EXPECT_EQ(FindCurrency("XYZ"), nullptr);
  EXPECT_EQ(FindCurrency(""), nullptr);
  auto r = LookupCurrency("US", "--currency");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidCurrency);
  EXPECT_NE(r.error().message.find("--currency"), std::string::npos);
}

TEST(MoneyParseTest, ParsesExactDecimals) {
  EXPECT_EQ(*ParseDecimalMinor("12.34", 2), 1234);
  EXPECT_EQ(*ParseDecimalMinor("12.3", 2), 1230);
  EXPECT_EQ(*ParseDecimalMinor("12", 2), 1200);
  EXPECT_EQ(*ParseDecimalMinor("0.01", 2), 1);
  EXPECT_EQ(*ParseDecimalMinor("-0.05", 2), -5);
  EXPECT_EQ(*ParseDecimalMinor("1000", 0), 1000);
  EXPECT_EQ(*ParseDecimalMinor("1.234", 3), 1234);
  EXPECT_EQ(*ParseDecimalMinor("0", 2), 0);
}

// "01.00" is ambiguous (an octal-looking or mistyped amount): refused, not read as 1.00.
TEST(MoneyParseTest, RejectsLeadingZeros) {
  for (const char* bad : {"01.00", "007.50", "-01", "00"}) {
    auto r = ParseDecimalMinor(bad, 2, "amount");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidAmount) << bad;
    EXPECT_NE(r.error().message.find("leading zero"), std::string::npos) << r.error().message;
  }
}

TEST(MoneyParseTest, RejectsExtraPrecisionInsteadOfRounding) {
  auto r = ParseDecimalMinor("12.345", 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidAmount);
  EXPECT_NE(r.error().message.find("3 decimal places"), std::string::npos);
  EXPECT_FALSE(ParseDecimalMinor("1.5", 0));  // JPY has no minor unit
}

TEST(MoneyParseTest, RejectsMalformedText) {
  for (const char* bad : {"", "-", ".", "1.", ".5", "+1", " 1", "1 ", "1e3", "1,000", "--1", "1.2.3",
                          "abc", "0x10", "1.-2", "١"}) {
    auto r = ParseDecimalMinor(bad, 2, "amount");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidAmount) << bad;
    EXPECT_EQ(r.error().message.rfind("amount:", 0), 0u) << r.error().message;
  }
}

TEST(MoneyParseTest, DetectsOverflowAtTheInt64Edges) {
  EXPECT_EQ(*ParseDecimalMinor("92233720368547758.07", 2), INT64_MAX);
  EXPECT_EQ(*ParseDecimalMinor("-92233720368547758.08", 2), INT64_MIN);
  auto r = ParseDecimalMinor("92233720368547758.08", 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAmountOverflow);
  EXPECT_FALSE(ParseDecimalMinor("99999999999999999999", 0));
}

TEST(MoneyFormatTest, PrintsExactly) {
  EXPECT_EQ(FormatMinor(1234, 2), "12.34");
  EXPECT_EQ(FormatMinor(5, 2), "0.05");
  EXPECT_EQ(FormatMinor(-5, 2), "-0.05");
  EXPECT_EQ(FormatMinor(0, 2), "0.00");
  EXPECT_EQ(FormatMinor(7, 0), "7");
  EXPECT_EQ(FormatMinor(1, 3), "0.001");
  EXPECT_EQ(FormatMinor(INT64_MIN, 2), "-92233720368547758.08");
  EXPECT_EQ(FormatMinor(INT64_MAX, 0), "9223372036854775807");
}

TEST(MoneyTest, ParsesWithCurrencyAndRoundTrips) {
  auto m = Money::Parse("12.34", "USD");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->amount_minor(), 1234);
  EXPECT_EQ(m->ToString(), "12.34 USD");
  auto bhd = Money::Parse("1.005", "BHD");
  ASSERT_TRUE(bhd);
  EXPECT_EQ(bhd->ToDecimal(), "1.005");
  EXPECT_FALSE(Money::Parse("1", "ZZZ"));
}

TEST(MoneyTest, CheckedArithmetic) {
  auto a = *Money::Parse("10.00", "USD");
  auto b = *Money::Parse("0.01", "USD");
  EXPECT_EQ(a.Add(b)->amount_minor(), 1001);
  EXPECT_EQ(a.Sub(b)->amount_minor(), 999);
  auto eur = *Money::Parse("1.00", "EUR");
  auto mismatch = a.Add(eur);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kCurrencyMismatch);
  Money max(INT64_MAX, *FindCurrency("USD"));
  auto over = max.Add(b);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kAmountOverflow);
  EXPECT_FALSE(CheckedSub(INT64_MIN, 1));
  EXPECT_FALSE(CheckedMul(INT64_MAX / 2 + 1, 2));
  EXPECT_EQ(*CheckedMul(-3, 4), -12);
}

}  // namespace
}  // namespace pay
