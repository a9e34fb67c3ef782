// The MCP channel (adapters/mcp): the line decoder, both protocol eras, and the tools over a real
// engine with the network simulator, through Server::Handle as a client's lines would arrive.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "adapters/mcp/json_rpc.h"
#include "adapters/mcp/server.h"
#include "adapters/mcp/tools.h"
#include "pay/engine.h"
#include "pay/simulator.h"
#include "tests/support/temp_dir.h"

namespace pay::mcp {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// A line's JSON as a Value (the test's own parse; fails the test on bad JSON).
Value Parse(const std::string& line) {
  Value v;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &v).ok()) << line;
  return v;
}
const Value& At(const Value& v, const std::string& key) {
  static const Value kNull;
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? kNull : it->second;
}
int ErrorCodeOf(const std::string& line) {
  return static_cast<int>(At(At(Parse(line), "error"), "code").number_value());
}

// ---- the line decoder ---------------------------------------------------------------------------

TEST(McpDecodeTest, ClassifiesRequestNotificationAndResponse) {
  Message r = DecodeLine(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  EXPECT_EQ(r.kind, Message::Kind::kRequest);
  EXPECT_EQ(r.id_json, "7");
  Message s = DecodeLine(R"({"jsonrpc":"2.0","id":"a\"b","method":"ping","params":{}})");
  EXPECT_EQ(s.id_json, R"("a\"b")");
  EXPECT_TRUE(s.has_params);
  EXPECT_EQ(DecodeLine(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").kind,
            Message::Kind::kNotification);
  EXPECT_EQ(DecodeLine(R"({"jsonrpc":"2.0","id":1,"result":{}})").kind, Message::Kind::kResponse);
}

TEST(McpDecodeTest, RefusesMalformedLinesWithTheirJsonRpcCodes) {
  struct Case {
    std::string line;
    int code;
  };
  const std::vector<Case> cases = {
      {"{", kParseError},
      {"not json", kParseError},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing", kParseError},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}", kParseError},  // duplicate
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xff\"}", kParseError},          // UTF-8
      {std::string(100, '[') + std::string(100, ']'), kParseError},                  // depth
      {"[]", kInvalidRequest},
      {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", kInvalidRequest},  // batch
      {"42", kInvalidRequest},
      {"{\"id\":1,\"method\":\"ping\"}", kInvalidRequest},                      // no jsonrpc
      {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", kInvalidRequest},  // wrong version
      {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", kInvalidRequest},
      {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", kInvalidRequest},
      {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", kInvalidRequest},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":3}", kInvalidRequest},
      {"{\"jsonrpc\":\"2.0\",\"id\":1}", kInvalidRequest},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}", kInvalidParams},
      {std::string(kLineBytesMax + 1, ' '), kInvalidRequest},
  };
  for (const Case& c : cases) {
    Message m = DecodeLine(c.line);
    EXPECT_EQ(m.kind, Message::Kind::kInvalid) << c.line.substr(0, 80);
    EXPECT_EQ(m.error_code, c.code) << c.line.substr(0, 80);
  }
  // The id is echoed when it could be read.
  EXPECT_EQ(DecodeLine(R"({"jsonrpc":"1.0","id":"x","method":"ping"})").id_json, "\"x\"");
}

TEST(McpDecodeTest, Utf8ValidatorRefusesOverlongsAndSurrogates) {
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xf0\x9f\x92\xb3"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

// ---- the server over a real engine ------------------------------------------------------------

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

// At most 2 payouts and 50.00 USD of payouts per hour for this agent's credential on MCP.
constexpr const char* kCaps = R"(
[[rule]]
name = "agent-payouts-per-hour"
operations = ["push"]
channels = ["mcp"]
key = ["credential"]
measure = "count"
  [[rule.window]]
  algorithm = "sliding_log"
  window = "1h"
  limit = 2
[[rule]]
name = "agent-payout-amount-per-hour"
operations = ["push"]
channels = ["mcp"]
key = ["credential"]
measure = "amount"
currency = "USD"
  [[rule.window]]
  algorithm = "sliding_log"
  window = "1h"
  limit = "50.00"
)";

class McpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimulatorOptions sim;
    sim.issuer_db_path = dir_.File("issuer.db");
    sim.durable = false;
    sim.clock = &clock_;
    auto network = CardNetworkSimulator::Open(sim);
    ASSERT_TRUE(network) << network.error().message;
    network_ = std::move(*network);
    EngineOptions o;
    o.db_path = dir_.File("pay.db");
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    o.clock = &clock_;
    o.card_network = network_.get();
    o.card_fingerprint_key = "a test key of at least 16 bytes";
    o.velocity_config_path = dir_.File("caps.toml");
    FILE* f = std::fopen(o.velocity_config_path.c_str(), "w");
    std::fputs(kCaps, f);
    std::fclose(f);
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    for (const char* m : {"acme", "other"}) {
      Command c;
      c.merchant = m;
      c.idempotency_key = std::string("merchant/") + m;
      c.request = CreateMerchantRequest{m, "USD", 0, 0};
      ASSERT_TRUE(engine_->Submit(c));
    }
    Command fund;
    fund.merchant = "acme";
    fund.idempotency_key = "topup-1";
    fund.request = FundRequest{100'000, "USD", std::nullopt};
    ASSERT_TRUE(engine_->Submit(fund));
    tools_ = std::make_unique<Tools>(
        *engine_, ToolsOptions{"acme", "agent-1", {"authorize", "capture", "payout"}});
    server_ = std::make_unique<Server>(*tools_, ServerInfo{"paymentctl", "test"},
                                       [this](const std::string& l) { log_.push_back(l); });
  }

  // tools/call of `tool` with `args` (a JSON object); the result object.
  Value Call(const std::string& tool, const std::string& args, const std::string& meta = "") {
    const std::string line = R"({"jsonrpc":"2.0","id":)" + std::to_string(++id_) +
                             R"(,"method":"tools/call","params":{)" + meta + R"("name":")" + tool +
                             R"(","arguments":)" + args + "}}";
    const std::string answer = server_->Handle(line);
    Value v = Parse(answer);
    EXPECT_EQ(At(v, "id").number_value(), id_) << answer;
    return At(v, "result");
  }
  static const Value& Structured(const Value& result) { return At(result, "structuredContent"); }

  pay::testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<CardNetworkSimulator> network_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Tools> tools_;
  std::unique_ptr<Server> server_;
  std::vector<std::string> log_;
  int id_ = 0;
};

TEST_F(McpServerTest, InitializeEchoesKnownVersionsAndOffersTheNewestOtherwise) {
  for (const char* v : {"2025-06-18", "2025-11-25"}) {
    Value r = At(
        Parse(server_->Handle(
            std::string(
                R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")") +
            v + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})")),
        "result");
    EXPECT_EQ(At(r, "protocolVersion").string_value(), v);
    EXPECT_EQ(At(At(r, "serverInfo"), "name").string_value(), "paymentctl");
    EXPECT_TRUE(At(At(r, "capabilities"), "tools").has_struct_value());
  }
  Value r = At(
      Parse(server_->Handle(
          R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2024-01-01"}})")),
      "result");
  EXPECT_EQ(At(r, "protocolVersion").string_value(), "2025-11-25");
  EXPECT_EQ(
      ErrorCodeOf(server_->Handle(R"({"jsonrpc":"2.0","id":3,"method":"initialize","params":{}})")),
      kInvalidParams);
  EXPECT_EQ(server_->Handle(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"), "");
  EXPECT_EQ(server_->Handle(R"({"jsonrpc":"2.0","method":"no/such/notification"})"), "");
  EXPECT_EQ(server_->Handle(""), "");
}

TEST_F(McpServerTest, PingUnknownMethodAndBadParams) {
  EXPECT_EQ(server_->Handle(R"({"jsonrpc":"2.0","id":"p","method":"ping"})"),
            R"({"jsonrpc":"2.0","id":"p","result":{}})");
  EXPECT_EQ(ErrorCodeOf(server_->Handle(R"({"jsonrpc":"2.0","id":1,"method":"prompts/list"})")),
            kMethodNotFound);
  EXPECT_EQ(ErrorCodeOf(server_->Handle(R"({"jsonrpc":"2.0","id":1,"method":"resources/read"})")),
            kInvalidParams);
  EXPECT_EQ(ErrorCodeOf(server_->Handle(
                R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}})")),
            kInvalidParams);
  EXPECT_EQ(
      ErrorCodeOf(server_->Handle(
          R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_balances","arguments":[]}})")),
      kInvalidParams);
  EXPECT_EQ(ErrorCodeOf(server_->Handle(R"({"jsonrpc":"2.0","id":1,"method":"tools/call"})")),
            kInvalidParams);
}

TEST_F(McpServerTest, StatelessEraDiscoverAndEnvelope) {
  const std::string meta =
      R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}},)";
  Value d =
      At(Parse(server_->Handle(R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{)" +
                               meta.substr(0, meta.size() - 1) + "}}")),
         "result");
  EXPECT_EQ(At(d, "resultType").string_value(), "complete");
  EXPECT_EQ(At(d, "supportedVersions").list_value().values(0).string_value(), "2026-07-28");
  EXPECT_EQ(At(d, "cacheScope").string_value(), "private");
  EXPECT_EQ(At(At(At(d, "_meta"), "io.modelcontextprotocol/serverInfo"), "name").string_value(),
            "paymentctl");
  Value list =
      At(Parse(server_->Handle(R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{)" +
                               meta.substr(0, meta.size() - 1) + "}}")),
         "result");
  EXPECT_EQ(At(list, "resultType").string_value(), "complete");
  Value r = Call("get_balances", "{}", meta);
  EXPECT_EQ(At(r, "resultType").string_value(), "complete");
  EXPECT_FALSE(At(r, "isError").bool_value());
  Value read =
      At(Parse(server_->Handle(R"({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{)" +
                               meta + R"("uri":"account://m/acme/available"}})")),
         "result");
  EXPECT_EQ(At(read, "ttlMs").number_value(), 0);  // balances change: never fresh
  EXPECT_EQ(At(list, "ttlMs").number_value(), 3'600'000);
  // The session era's results carry no resultType.
  EXPECT_FALSE(At(Call("get_balances", "{}"), "resultType").has_string_value());
  const std::string bad = server_->Handle(
      R"({"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01"}}})");
  EXPECT_EQ(ErrorCodeOf(bad), kUnsupportedProtocolVersion);
  EXPECT_EQ(At(At(At(Parse(bad), "error"), "data"), "requested").string_value(), "1900-01-01");
}

TEST_F(McpServerTest, ListsReadToolsAndOnlyTheAllowedWriteTools) {
  Value r =
      At(Parse(server_->Handle(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})")), "result");
  std::vector<std::string> names;
  for (const Value& t : At(r, "tools").list_value().values()) {
    names.push_back(At(t, "name").string_value());
    EXPECT_TRUE(At(t, "inputSchema").has_struct_value());
    EXPECT_TRUE(At(t, "outputSchema").has_struct_value());
    const Value& a = At(t, "annotations");
    EXPECT_EQ(At(a, "readOnlyHint").bool_value(), names.back().find('_') != std::string::npos);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"get_payment", "list_payments", "get_balances",
                                             "account_history", "ledger_verify", "velocity_status",
                                             "authorize", "capture", "payout"}));
}

TEST_F(McpServerTest, AuthorizeCaptureReplayAndKeyReuse) {
  const std::string args =
      R"({"card_number":"4242424242424242","expiry":"12/30","amount":"25.00","currency":"USD","idempotency_key":"order-1"})";
  Value first = Call("authorize", args);
  ASSERT_FALSE(At(first, "isError").bool_value());
  const Value& payment = At(Structured(first), "payment");
  EXPECT_EQ(At(payment, "status").string_value(), "authorized");
  EXPECT_FALSE(At(Structured(first), "replayed").bool_value());
  const std::string id = At(payment, "payment_id").string_value();
  // No full card number anywhere in the answer.
  EXPECT_EQ(
      server_
          ->Handle(
              R"({"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"get_payment","arguments":{"payment_id":")" +
              id + R"("}}})")
          .find("4242424242424242"),
      std::string::npos);

  Value again = Call("authorize", args);
  EXPECT_TRUE(At(Structured(again), "replayed").bool_value());
  EXPECT_EQ(At(At(Structured(again), "payment"), "payment_id").string_value(), id);

  Value reused = Call(
      "authorize",
      R"({"card_number":"4242424242424242","expiry":"12/30","amount":"26.00","currency":"USD","idempotency_key":"order-1"})");
  EXPECT_TRUE(At(reused, "isError").bool_value());
  EXPECT_EQ(At(At(Structured(reused), "error"), "code").string_value(), "idempotency_key_reused");

  Value cap = Call("capture",
                   R"({"payment_id":")" + id + R"(","amount":"20.00","idempotency_key":"cap-1"})");
  ASSERT_FALSE(At(cap, "isError").bool_value());
  EXPECT_EQ(At(At(Structured(cap), "payment"), "captured_minor").number_value(), 2000);
  EXPECT_NE(log_.back().find(R"("tool":"capture","key":"cap-1","outcome":"ok")"), std::string::npos)
      << log_.back();
}

TEST_F(McpServerTest, GuardsRefuseWithoutAskingTheEngine) {
  Value no_key = Call(
      "authorize",
      R"({"card_number":"4242424242424242","expiry":"12/30","amount":"25.00","currency":"USD"})");
  EXPECT_TRUE(At(no_key, "isError").bool_value());
  EXPECT_EQ(At(At(Structured(no_key), "error"), "param").string_value(), "idempotency_key");
  Value real_card = Call(
      "authorize",
      R"({"card_number":"4111111111111111","expiry":"12/30","amount":"25.00","currency":"USD","idempotency_key":"k"})");
  EXPECT_TRUE(At(real_card, "isError").bool_value());
  EXPECT_EQ(
      server_
          ->Handle(
              R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"authorize","arguments":{"card_number":"4111111111111111","expiry":"12/30","amount":"1.00","currency":"USD","idempotency_key":"k"}}})")
          .find("4111111111111111"),
      std::string::npos);
  Value not_allowed = Call("refund", R"({"payment_id":"pay_000000000001","idempotency_key":"r1"})");
  EXPECT_TRUE(At(not_allowed, "isError").bool_value());
  EXPECT_EQ(At(At(Structured(not_allowed), "error"), "code").string_value(), "forbidden");
  Value extra = Call("get_balances", R"({"merchant":"other"})");
  EXPECT_TRUE(At(extra, "isError").bool_value());
  Value float_amount = Call(
      "payout",
      R"({"recipient_card":"4242424242424242","amount":10.5,"currency":"USD","recipient_name":"Bo","idempotency_key":"p"})");
  EXPECT_TRUE(At(float_amount, "isError").bool_value());
  EXPECT_EQ(At(At(Structured(float_amount), "error"), "param").string_value(), "amount");
}

TEST_F(McpServerTest, AnotherMerchantsPaymentIsNotFound) {
  Command c;
  c.merchant = "other";
  c.idempotency_key = "o-1";
  c.request = AuthorizeRequest{{"4242424242424242", "12/30", ""}, 500, "USD", {}};
  auto r = engine_->Submit(c);
  ASSERT_TRUE(r);
  Value get = Call("get_payment", R"({"payment_id":")" + r->payment_id + R"("})");
  EXPECT_TRUE(At(get, "isError").bool_value());
  EXPECT_EQ(At(At(Structured(get), "error"), "code").string_value(), "payment_not_found");
  Value cap = Call("capture", R"({"payment_id":")" + r->payment_id + R"(","idempotency_key":"c"})");
  EXPECT_TRUE(At(cap, "isError").bool_value());
  Value list = Call("list_payments", "{}");
  EXPECT_EQ(At(Structured(list), "payments").list_value().values_size(), 0);
}

TEST_F(McpServerTest, VelocityCapNamesRuleLimitAndRetry) {
  auto payout = [&](const std::string& key, const std::string& amount) {
    return Call("payout", R"({"recipient_card":"4242424242424242","amount":")" + amount +
                              R"(","currency":"USD","recipient_name":"Bo","idempotency_key":")" +
                              key + R"("})");
  };
  ASSERT_FALSE(At(payout("p1", "10.00"), "isError").bool_value());
  ASSERT_FALSE(At(payout("p2", "10.00"), "isError").bool_value());
  Value third = payout("p3", "10.00");
  ASSERT_TRUE(At(third, "isError").bool_value());
  const Value& e = At(Structured(third), "error");
  EXPECT_EQ(At(e, "code").string_value(), "velocity_limited");
  EXPECT_EQ(At(e, "rule").string_value(), "agent-payouts-per-hour");
  EXPECT_EQ(At(e, "limit").number_value(), 2);
  EXPECT_EQ(At(e, "window_s").number_value(), 3600);
  EXPECT_GT(At(e, "retry_after_s").number_value(), 0);
  // A replay of an accepted key is not counted again.
  EXPECT_TRUE(At(Structured(payout("p1", "10.00")), "replayed").bool_value());
  Value status = Call("velocity_status", "{}");
  EXPECT_EQ(At(Structured(status), "windows").list_value().values_size(), 2);
  clock_.AdvanceMs(3'600'001);
  Value big = payout("p4", "60.00");
  EXPECT_EQ(At(At(Structured(big), "error"), "rule").string_value(),
            "agent-payout-amount-per-hour");
}

TEST(McpErrorContentTest, NamesTheLimitFromTheRefusalWhenNoAgentWindowMatches) {
  Error e = MakeError(ErrorCode::kVelocityLimited,
                      "velocity: rule 'cards' allows 3 per 60s for card=ab12; retry after 5000 ms");
  e.rule = "cards";
  e.response_code = "65";
  e.retry_after_ms = 5000;
  Value v = Parse(ErrorContent(e));
  const Value& err = At(v, "error");
  EXPECT_EQ(At(err, "limit").number_value(), 3);
  EXPECT_EQ(At(err, "window_s").number_value(), 60);
  EXPECT_EQ(At(err, "retry_after_s").number_value(), 5);
  EXPECT_EQ(At(err, "code").string_value(), "velocity_limited");
}

TEST_F(McpServerTest, ReadToolsAnswerWithTheirSchemasShapes) {
  Value b = Structured(Call("get_balances", "{}"));
  EXPECT_EQ(At(b, "currency").string_value(), "USD");
  EXPECT_GE(At(b, "accounts").list_value().values_size(), 1);
  Value h = Structured(Call("account_history", R"({"account":"disbursement"})"));
  EXPECT_EQ(At(h, "account").string_value(), "m/acme/disbursement");
  EXPECT_TRUE(At(Structured(Call("ledger_verify", "{}")), "ok").bool_value());
  EXPECT_TRUE(
      At(Call("account_history", R"({"account":"m/other/available"})"), "isError").bool_value());
  EXPECT_TRUE(At(Call("list_payments", R"({"limit":0})"), "isError").bool_value());
}

TEST_F(McpServerTest, ResourcesAreTheMerchantsAccountsAndPayments) {
  Value list =
      At(Parse(server_->Handle(R"({"jsonrpc":"2.0","id":1,"method":"resources/list"})")), "result");
  ASSERT_EQ(At(list, "resources").list_value().values_size(), 3);
  EXPECT_EQ(At(At(list, "resources").list_value().values(2), "uri").string_value(),
            "account://m/acme/disbursement");
  Value read = At(
      Parse(server_->Handle(R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":)"
                            R"("account://m/acme/disbursement"}})")),
      "result");
  Value account = Parse(At(At(read, "contents").list_value().values(0), "text").string_value());
  EXPECT_EQ(At(account, "balance_minor").number_value(), 100'000);
  EXPECT_EQ(ErrorCodeOf(server_->Handle(
                R"({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":)"
                R"("account://m/other/available"}})")),
            -32002);
  EXPECT_EQ(ErrorCodeOf(server_->Handle(
                R"({"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":)"
                R"("payment://pay_999999999999"}})")),
            -32002);
  Value templates =
      At(Parse(server_->Handle(R"({"jsonrpc":"2.0","id":5,"method":"resources/templates/list"})")),
         "result");
  EXPECT_EQ(
      At(At(templates, "resourceTemplates").list_value().values(0), "uriTemplate").string_value(),
      "payment://{payment_id}");
}

}  // namespace
}  // namespace pay::mcp
