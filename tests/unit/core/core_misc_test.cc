#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "core/json_keys.h"
#include "core/random.h"
#include "pay/clock.h"
#include "pay/result.h"

namespace pay {
namespace {

TEST(ErrorsTest, EveryCodeHasANameSummaryAndStableGroup) {
  size_t n = 0;
  const ErrorCode* codes = AllErrorCodes(&n);
  ASSERT_GT(n, 20u);
  std::set<std::string_view> names;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NE(ErrorName(codes[i]), "unknown_error");
    EXPECT_FALSE(ErrorSummary(codes[i]).empty());
    EXPECT_TRUE(names.insert(ErrorName(codes[i])).second) << "duplicate name";
  }
  EXPECT_EQ(static_cast<int>(ErrorCode::kUnbalancedEntry), 1009);
  EXPECT_EQ(ErrorRetryAdvice(ErrorCode::kInvalidAmount), RetryAdvice::kFixInput);
  EXPECT_EQ(ErrorRetryAdvice(ErrorCode::kOverdraft), RetryAdvice::kDoNotRetry);
  EXPECT_EQ(ErrorRetryAdvice(ErrorCode::kStoreBusy), RetryAdvice::kRetrySameKey);
  EXPECT_EQ(ErrorRetryAdvice(ErrorCode::kCorruptStore), RetryAdvice::kContactOperator);
}

TEST(ErrorsTest, DocsListEveryCodeWithItsNumber) {
  std::ifstream in(std::string(PAY_SOURCE_DIR) + "/docs/errors.md");
  ASSERT_TRUE(in) << "docs/errors.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  std::set<std::pair<int, std::string>> documented;
  std::regex row(R"(\|\s*(\d{4})\s*\|\s*([a-z_]+)\s*\|)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator(); ++it) {
    documented.insert({std::stoi((*it)[1]), (*it)[2]});
  }
  size_t n = 0;
  const ErrorCode* codes = AllErrorCodes(&n);
  std::set<std::pair<int, std::string>> defined;
  for (size_t i = 0; i < n; ++i) {
    defined.insert({static_cast<int>(codes[i]), std::string(ErrorName(codes[i]))});
  }
  EXPECT_EQ(documented, defined);
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = 5;
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 5);
  EXPECT_EQ(ok.value_or(7), 5);
  Result<int> bad = MakeError(ErrorCode::kInvalidArgument, "x: bad");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().number(), 1001);
  EXPECT_EQ(bad.error().name(), "invalid_argument");
  EXPECT_EQ(bad.value_or(7), 7);
  Result<void> v;
  EXPECT_TRUE(v.has_value());
}

TEST(IdsTest, ValidatesAccountIdsAndReferences) {
  EXPECT_TRUE(ValidateAccountId("merchant:42/available"));
  EXPECT_EQ(ValidateAccountId("").error().code, ErrorCode::kInvalidAccountId);
  EXPECT_EQ(ValidateAccountId("has space").error().code, ErrorCode::kInvalidAccountId);
  EXPECT_EQ(ValidateAccountId(std::string(65, 'a')).error().code, ErrorCode::kInvalidAccountId);
  EXPECT_TRUE(ValidateAccountId(std::string(64, 'a')));
  EXPECT_EQ(ValidateAccountId("tab\there").error().code, ErrorCode::kInvalidAccountId);
  EXPECT_TRUE(ValidateReference("order 1001 / attempt 2"));
  EXPECT_TRUE(ValidateReference(std::string(255, 'k')));
  EXPECT_EQ(ValidateReference(std::string(256, 'k')).error().code, ErrorCode::kInvalidReference);
  EXPECT_EQ(ValidateReference("caf\xc3\xa9").error().code, ErrorCode::kInvalidReference);
  EXPECT_EQ(ValidateReference(" lead").error().code, ErrorCode::kInvalidReference);
  EXPECT_EQ(ValidateReference(std::string("nul\0x", 5)).error().code, ErrorCode::kInvalidReference);
}

TEST(RandomTest, SameSeedSameSequence) {
  Random a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
  Random r(1);
  for (int i = 0; i < 1000; ++i) {
    int64_t v = r.Range(-3, 3);
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 3);
  }
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock c(1000);
  EXPECT_EQ(c.NowMs(), 1000);
  c.AdvanceMs(500);
  EXPECT_EQ(c.NowMs(), 1500);
  c.SetMs(7);
  EXPECT_EQ(c.NowMs(), 7);
  SystemClock s;
  EXPECT_GT(s.NowMs(), 1'600'000'000'000);
}

TEST(CryptoTest, Sha256KnownAnswer) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256("a", "bc")), ToHex(Sha256("abc")));
  // RFC 4231, test case 2.
  EXPECT_EQ(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(EncodingTest, RoundTripsAndRefusesTruncation) {
  Writer w;
  w.U8(7);
  w.I64(-42);
  w.Str("hello");
  std::string bytes = w.Take();
  Reader r(bytes);
  uint8_t a;
  int64_t b;
  std::string s;
  ASSERT_TRUE(r.U8(&a) && r.I64(&b) && r.Str(&s, 16));
  EXPECT_EQ(a, 7);
  EXPECT_EQ(b, -42);
  EXPECT_EQ(s, "hello");
  EXPECT_TRUE(r.done());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    Reader t(std::string_view(bytes).substr(0, cut));
    bool ok = t.U8(&a) && t.I64(&b) && t.Str(&s, 16);
    EXPECT_FALSE(ok) << cut;
  }
  Reader small(bytes);
  ASSERT_TRUE(small.U8(&a) && small.I64(&b));
  EXPECT_FALSE(small.Str(&s, 4));  // longer than the caller allows
}

}  // namespace
}  // namespace pay

namespace pay {
namespace {

// A key given twice in one object is refused, naming its path; the same key in different
// objects, in arrays, or inside strings is not a duplicate.
TEST(JsonKeysTest, RefusesAKeyGivenTwiceInOneObject) {
  struct Case {
    const char* json;
    const char* duplicate;  // nullptr: accepted
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"({"amount":"1.00","amount":"2.00"})", "amount"},
           {R"({"card":{"number":"1","number":"2"},"amount":"1.00"})", "card.number"},
           {R"({"amount_minor":1,"amountMinor":2})", "amountMinor"},
           {R"({"amount":"1.00","\u0061mount":"2.00"})", "amount"},
           {R"({"a":[{"k":1},{"k":2}],"b":{"k":1},"k":2})", nullptr},
           {R"({"a":"\"b\":1,\"b\":2","b":"{\"a\":1}"})", nullptr},
           {R"({"a":{"b":{}},"c":{"b":{}}})", nullptr},
           {R"({"x":[1,2,{"y":1,"y":2}]})", "x.y"},
           {R"({"a":)", nullptr},  // malformed: left to the parser
           {R"("\)", nullptr},
           {"", nullptr}}) {
    auto r = RefuseDuplicateJsonKeys(c.json, "body");
    if (c.duplicate == nullptr) {
      EXPECT_TRUE(r) << c.json;
      continue;
    }
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, std::string("body: duplicate key '") + c.duplicate + "'") << c.json;
  }
  std::string deep(100'000, '[');  // no recursion: deep nesting is not a crash
  EXPECT_TRUE(RefuseDuplicateJsonKeys(deep, "body"));
}

}  // namespace
}  // namespace pay
