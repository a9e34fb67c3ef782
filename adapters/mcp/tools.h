#pragma once
// The MCP channel's tools: reads of one merchant's payments, balances, history, the ledger's
// verification and the agent's velocity windows, and (when allowed) the writes that move money:
// authorize, capture, void, refund, payout, p2p. Every call goes through pay::Engine as a
// Command of Channel::kMcp in the merchant's scope, with the agent's credential as
// ClientInfo::credential, so idempotency keys and velocity rules (channel "mcp", dimension
// "credential") apply as to every other channel. Docs: docs/mcp.md.
//
// Guards kept here, not negotiable by arguments: one merchant (payments of others are not
// found), write tools only when allowed at start-up (others are not listed, and calling one is
// an isError result), an idempotency_key on every write, card numbers only from the network
// simulator's test cards, and no full card number in any answer or log line.
//
// Single-threaded: one Tools per server, called from its read loop.

#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pay/engine.h"

namespace pay::mcp {

struct ToolSpec {
  std::string_view name;
  std::string_view title;
  std::string_view description;
  std::string_view input_schema;  // JSON Schema (an object schema)
  std::string output_schema;      // JSON Schema of structuredContent (success or error)
  bool write = false;             // moves money: needs --allow-tools, an idempotency_key
  bool destructive = false;       // annotations
  bool idempotent = false;
};

// Every tool, reads first (tool_specs.cc).
const std::vector<ToolSpec>& AllTools();
const ToolSpec* FindTool(std::string_view name);

struct ToolsOptions {
  std::string merchant;    // the one merchant the server acts for (must exist)
  std::string credential;  // the agent's credential name: velocity's "credential" dimension
  std::set<std::string> allowed_writes;  // names of write tools that may run
};

// What a call answers: structuredContent (a JSON object), its text block, whether it is an
// error result, and for the log line: the idempotency key and a one-word outcome.
struct ToolResult {
  std::string structured_json;
  bool is_error = false;
  std::string key;
  std::string outcome;  // ok, replayed, declined, refused:<error name>, invalid, not_allowed
};

class Tools {
 public:
  // `engine` must outlive this object.
  Tools(Engine& engine, ToolsOptions options);

  // The tools tools/list shows: every read tool and the allowed write tools.
  std::vector<const ToolSpec*> Listed() const;
  // Runs tool `name` (which FindTool knows) with `args`.
  ToolResult Call(const ToolSpec& tool, const google::protobuf::Struct& args);

  const ToolsOptions& options() const { return options_; }

  // Resources (resources.cc): the merchant's accounts as account://m/<merchant>/<name>, and its
  // payments as payment://<id>. ReadResource answers the JSON a read tool would show;
  // kNotFound for a URI that names nothing of this merchant's.
  std::vector<std::string> AccountUris() const;
  Result<std::string> ReadResource(std::string_view uri);

 private:
  ToolResult GetPayment(const google::protobuf::Struct& args);
  ToolResult ListPayments(const google::protobuf::Struct& args);
  ToolResult GetBalances(const google::protobuf::Struct& args);
  ToolResult AccountHistory(const google::protobuf::Struct& args);
  ToolResult LedgerVerify(const google::protobuf::Struct& args);
  ToolResult VelocityStatus(const google::protobuf::Struct& args);
  ToolResult Write(const ToolSpec& tool, const google::protobuf::Struct& args);
  // The engine's answer to a write (or its refusal) as a tool result.
  ToolResult Submitted(const Result<Outcome>& r, std::string key);
  // The velocity windows of the agent's own keys (merchant, credential, channel) of `rule`
  // (every rule when empty).
  std::vector<VelocityWindowStatus> AgentWindows(std::string_view rule);

  Engine& engine_;
  ToolsOptions options_;
};

// The error content of a tool result: {"error":{"code","number","type","message"[,"param"]
// [,"rule","limit","window_s","response_code","retry_after_ms","retry_after_s"]}}.
std::string ErrorContent(const Error& error, const std::vector<VelocityWindowStatus>& windows = {});
// Merchant test cards the network simulator knows (docs/network-sim.md); other numbers are
// refused by the write tools.
bool IsSimulatorTestCard(std::string_view pan);

}  // namespace pay::mcp
