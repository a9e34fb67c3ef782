#include "core/answer_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace pay {
namespace {

const std::string kAnswer =
    R"({"payment_id":"pay_000000012385","merchant":"m000","status":"authorized","response_code":"00",)"
    R"("currency":"USD","amount_minor":10076,"authorized_minor":10076,"captured_minor":0,)"
    R"("refunded_minor":0,"capturable_minor":10076,"settled_minor":0,"fee_minor":0,"amount":"100.76",)"
    R"("card":{"fingerprint":"dd39f9055d536e626d559bfae1ded733615b074cf08e14c03b0455f5bd7b8389",)"
    R"("bin":"424242","last4":"1933"},"network":{"rrn":"000000012385","stan":"019893",)"
    R"("auth_code":"157677"},"settled":false,"created_at":"2026-11-28T23:04:52.131Z",)"
    R"("authorization_expires_at":"2026-12-05T23:04:52.131Z","history":[{"op":"authorize",)"
    R"("amount_minor":10076,"response_code":"00","stan":"019893","entry_id":21801,)"
    R"("at":"2026-11-28T23:04:52.131Z"}]})";

TEST(AnswerCodecTest, PacksATypicalAnswerToAThirdAndBackByteForByte) {
  const std::string packed = PackAnswer(kAnswer);
  EXPECT_EQ(packed[0], '\x01');
  EXPECT_LT(packed.size() * 3, kAnswer.size()) << packed.size() << " of " << kAnswer.size();
  auto body = UnpackAnswer(packed);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(*body, kAnswer);
}

// Records written before answers were packed hold the JSON itself; short bodies and bodies that
// start with a tag byte are stored as they are, behind a 0x00 tag when needed.
TEST(AnswerCodecTest, ReadsRawBodiesAndEscapesTagBytes) {
  EXPECT_EQ(*UnpackAnswer(kAnswer), kAnswer);
  EXPECT_EQ(PackAnswer("{}"), "{}");
  EXPECT_EQ(*UnpackAnswer(""), "");
  EXPECT_EQ(PackAnswer(""), "");
  for (std::string odd : {std::string("\x01{}", 3), std::string(1, '\0') + "x",
                          std::string("\x01") + kAnswer}) {
    auto back = UnpackAnswer(PackAnswer(odd));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, odd);
  }
}

TEST(AnswerCodecTest, ADamagedFrameIsACorruptStore) {
  std::string packed = PackAnswer(kAnswer);
  for (std::string bad : {packed.substr(0, packed.size() / 2), std::string("\x01", 1),
                          std::string("\x01garbage-not-a-frame", 20)}) {
    auto r = UnpackAnswer(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kCorruptStore);
  }
  for (size_t i = 1; i < packed.size(); ++i) {  // any flipped byte is found
    std::string flipped = packed;
    flipped[i] ^= 0x55;
    auto r = UnpackAnswer(flipped);
    EXPECT_FALSE(r && *r != kAnswer) << "byte " << i << " changed the answer silently";
  }
}

}  // namespace
}  // namespace pay
