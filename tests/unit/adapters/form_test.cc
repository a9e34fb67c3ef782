// Form bodies as Stripe's clients send them (adapters/server/form.h), well-formed and not.

#include "adapters/server/form.h"

#include <gtest/gtest.h>

namespace pay::server {
namespace {

std::string ErrorOf(std::string_view body) {
  auto f = Form::Parse(body);
  EXPECT_FALSE(f) << body;
  return f ? "" : f.error().message;
}

TEST(FormTest, NestedNamesSpacesAndEscapes) {
  auto f = Form::Parse("amount=5000&currency=usd&metadata[order_id]=o+1&metadata%5Bnote%5D=a%26b%3D"
                       "&payment_method_data[card][number]=4242424242424242&expand[]=x&expand[]=y");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->Get("currency"), "usd");
  EXPECT_EQ(*f->Int("amount"), 5000);
  EXPECT_EQ(f->Get("payment_method_data[card][number]"), "4242424242424242");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(f->Under("metadata"), (Pairs{{"note", "a&b="}, {"order_id", "o 1"}}));
  EXPECT_EQ(f->Under("expand"), (Pairs{{"0", "x"}, {"1", "y"}}));
  EXPECT_FALSE(f->Has("missing"));
  EXPECT_EQ(*f->Int("missing"), std::nullopt);
}

TEST(FormTest, EmptyBodyAndEmptyPairsAreNothing) {
  auto f = Form::Parse("");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->Names().empty());
  auto g = Form::Parse("a=1&&b=&");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->Names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(g->Get("b"), "");
}

TEST(FormTest, MalformedInputIsRefusedNamingTheProblem) {
  EXPECT_NE(ErrorOf("a=%zz").find("percent-escape at byte 2"), std::string::npos);
  EXPECT_NE(ErrorOf("a=1%").find("percent-escape"), std::string::npos);
  EXPECT_NE(ErrorOf("a%4=1").find("percent-escape"), std::string::npos);
  EXPECT_NE(ErrorOf("=1").find("without a name"), std::string::npos);
  EXPECT_NE(ErrorOf("amount=1&amount=2").find("amount: given twice"), std::string::npos);
  EXPECT_NE(ErrorOf("amount=1&amoun%74=2").find("given twice"), std::string::npos);  // the same once decoded
  EXPECT_NE(ErrorOf("e[0]=a&e[]=b").find("e[0]: given twice"), std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kFormNameBytesMax + 1, 'n') + "=1").find("name is longer"), std::string::npos);
  EXPECT_NE(ErrorOf("v=" + std::string(kFormValueBytesMax + 1, 'x')).find("v: longer than"), std::string::npos);
  // The bound holds for the name as kept: e[] of 200 bytes is kept as e[0], of 201 (a fuzzer's find).
  EXPECT_NE(ErrorOf(std::string(kFormNameBytesMax - 2, 'e') + "[]=1").find("name is longer"), std::string::npos);
  EXPECT_TRUE(Form::Parse(std::string(kFormNameBytesMax - 3, 'e') + "[]=1"));
  std::string many;
  for (size_t i = 0; i <= kFormParamsMax; ++i) many += "p" + std::to_string(i) + "=1&";
  EXPECT_NE(ErrorOf(many).find("more than 256 parameters"), std::string::npos);
}

TEST(FormTest, TypedValuesNameTheParam) {
  auto f = Form::Parse("amount=12x&big=99999999999999999999&confirm=yes&ok=true&neg=-5");
  ASSERT_TRUE(f);
  EXPECT_NE(f->Int("amount").error().message.find("amount: an integer"), std::string::npos);
  EXPECT_FALSE(f->Int("big"));
  EXPECT_EQ(**f->Int("neg"), -5);
  EXPECT_NE(f->Bool("confirm").error().message.find("confirm: true or false"), std::string::npos);
  EXPECT_EQ(*f->Bool("ok"), true);
}

}  // namespace
}  // namespace pay::server
