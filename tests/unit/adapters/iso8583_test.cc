#include "adapters/network/iso8583.h"

#include <gtest/gtest.h>

#include "core/random.h"

namespace pay::iso8583 {
namespace {

Message Authorization() {
  Message m;
  m.mti = 100;
  EXPECT_TRUE(m.Set(de::kPan, "4242424242424242"));
  EXPECT_TRUE(m.Set(de::kProcessingCode, "000000"));
  EXPECT_TRUE(m.Set(de::kAmount, "000000001234"));
  EXPECT_TRUE(m.Set(de::kTransmissionTime, "1128120000"));
  EXPECT_TRUE(m.Set(de::kStan, "000042"));
  EXPECT_TRUE(m.Set(de::kExpiry, "2812"));
  EXPECT_TRUE(m.Set(de::kEntryMode, "010"));
  EXPECT_TRUE(m.Set(de::kRrn, "633212000042"));
  EXPECT_TRUE(m.Set(de::kTerminalId, "TERM0001"));
  EXPECT_TRUE(m.Set(de::kMerchantId, "MERCHANT0000001"));
  EXPECT_TRUE(m.Set(de::kCurrency, "840"));
  return m;
}

void ExpectError(const Result<Message>& r, const std::string& starts_with) {
  ASSERT_FALSE(r) << "expected an error starting with " << starts_with;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message.rfind(starts_with, 0), 0u) << r.error().message;
}

TEST(Iso8583Test, EncodesTheWireFormat) {
  auto bytes = Encode(Authorization());
  ASSERT_TRUE(bytes) << bytes.error().message;
  // MTI, then the primary bitmap in hex: DE 2,3,4,7,11,14,22,37,41,42,49.
  EXPECT_EQ(bytes->substr(0, 4), "0100");
  EXPECT_EQ(bytes->substr(4, 16), "7224040008C08000");
  EXPECT_EQ(bytes->substr(20, 18), "164242424242424242");  // LLVAR PAN
}

TEST(Iso8583Test, RoundTripsEveryMessageType) {
  for (int mti : {100, 110, 120, 200, 210, 220, 400, 410, 420, 430, 800, 810}) {
    Message m = Authorization();
    m.mti = mti;
    if (mti % 100 == 10 || mti % 100 == 30) {
      ASSERT_TRUE(m.Set(de::kResponseCode, "00"));
      ASSERT_TRUE(m.Set(de::kAuthCode, "A1B2C3"));
    }
    if (mti >= 400 && mti < 500) {
      ASSERT_TRUE(m.Set(de::kOriginalData, "010000004211281200000000000000000000000000"));
    }
    if (mti >= 800) {
      ASSERT_TRUE(m.Set(de::kNetworkManagementCode, "301"));  // echo
    }
    ASSERT_TRUE(m.Set(de::kTransactionData, "BAI=PP;sender=Jane Doe"));
    auto bytes = Encode(m);
    ASSERT_TRUE(bytes) << bytes.error().message;
    auto back = Decode(*bytes);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, m) << MtiString(mti);
    EXPECT_EQ(ResponseMti(100), 110);
  }
}

TEST(Iso8583Test, SetChecksTheSpec) {
  Message m;
  auto r = m.Set(de::kAmount, "12.34");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("DE 4 (amount)", 0), 0u) << r.error().message;
  EXPECT_FALSE(m.Set(de::kAmount, "1234"));                     // fixed length 12
  EXPECT_FALSE(m.Set(de::kPan, std::string(20, '4')));          // LLVAR max 19
  EXPECT_FALSE(m.Set(de::kRrn, "ABC-12345678"));                // alphanumeric only
  EXPECT_FALSE(m.Set(de::kTerminalId, std::string("TERM\x01" "001", 8)));  // printable only
  EXPECT_FALSE(m.Set(5, "000000000001"));                       // not supported
  EXPECT_FALSE(m.Has(de::kAmount));
}

TEST(Iso8583Test, MalformedBytesNameTheField) {
  std::string good = *Encode(Authorization());
  ExpectError(Decode(""), "MTI");
  ExpectError(Decode("01"), "MTI");
  ExpectError(Decode("01x0" + good.substr(4)), "MTI");
  ExpectError(Decode(good.substr(0, 10)), "primary bitmap");
  ExpectError(Decode("0100" + std::string("72240000G4C08000") + good.substr(20)), "primary bitmap");
  ExpectError(Decode(good.substr(0, 21)), "DE 2 (primary account number)");
  ExpectError(Decode(good.substr(0, 20) + "2" + "0" + good.substr(22)), "DE 2 (primary account number): length 20");
  ExpectError(Decode(good.substr(0, 20) + "x6" + good.substr(22)), "DE 2 (primary account number): length prefix");
  ExpectError(Decode(good + "X"), "message: 1 bytes after");
  ExpectError(Decode(good.substr(0, good.size() - 1)), "DE 49 (currency code): truncated");
  std::string amount = good;
  amount[46] = 'A';  // inside DE 4 (MTI 4, bitmap 16, DE 2 18, DE 3 6)
  ExpectError(Decode(amount), "DE 4 (amount): only digits");
  // DE 5 in the bitmap is not supported.
  ExpectError(Decode("0100" + std::string("0800000000000000") + "000000000001"), "DE 5: present");
  // A secondary bitmap that names nothing.
  ExpectError(Decode("0800" + std::string("8000000000000000") + std::string(16, '0')), "secondary bitmap");
  ExpectError(Decode(std::string(kMessageBytesMax + 1, '0')), "message: longer");
}

TEST(Iso8583Test, LowerCaseBitmapsDecodeAndReencodeInUpperCase) {
  // Found by the fuzzer: decoding accepts either case, so bytes need not round-trip exactly.
  auto m = Decode("3480400000000a4100000000000008000000000000000008000000");
  ASSERT_TRUE(m) << m.error().message;
  auto bytes = Encode(*m);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->substr(4, 16), "400000000A410000");
  EXPECT_EQ(*Decode(*bytes), *m);
}

TEST(Iso8583Test, RandomBytesNeverCrashAndValidOnesRoundTrip) {
  Random rnd(8583);
  std::string good = *Encode(Authorization());
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = good;
    int edits = static_cast<int>(rnd.Range(1, 4));
    for (int e = 0; e < edits; ++e) {
      size_t at = rnd.Uniform(s.size());
      switch (rnd.Uniform(3)) {
        case 0: s[at] = static_cast<char>(rnd.Next()); break;
        case 1: s.erase(at, 1); break;
        default: s.insert(at, 1, static_cast<char>('0' + rnd.Uniform(10))); break;
      }
    }
    auto m = Decode(s);
    if (!m) continue;
    ++decoded;
    auto again = Encode(*m);
    ASSERT_TRUE(again);
    auto back = Decode(*again);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, *m);  // what decodes re-encodes to the same message
  }
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace pay::iso8583
