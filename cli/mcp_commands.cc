// paymentctl mcp: the MCP channel over stdio (docs/mcp.md). stdin carries one JSON-RPC message
// a line; stdout carries the answers and nothing else; stderr carries one JSON log line per tool
// call. The protocol and the tools are adapters/mcp; this file is the transport and the options.

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/mcp/server.h"
#include "adapters/mcp/tools.h"
#include "cli/commands.h"

#ifndef PAYMENTCTL_VERSION
#error "PAYMENTCTL_VERSION must be defined (the project version, by cli/CMakeLists.txt)"
#endif

namespace pay::cli {
namespace {

struct McpOptions {
  std::string credential;
  std::vector<std::string> allow_tools;
};

void Log(const std::string& line) { std::cerr << line << "\n" << std::flush; }

// The write tools named by --allow-tools (comma-separated or repeated); an invalid_argument error
// naming an unknown one or a read tool.
Result<std::set<std::string>> AllowedWrites(const std::vector<std::string>& given) {
  std::set<std::string> out;
  for (const std::string& list : given) {
    std::istringstream words(list);
    for (std::string name; std::getline(words, name, ',');) {
      if (name.empty()) continue;
      const mcp::ToolSpec* t = mcp::FindTool(name);
      if (t == nullptr || !t->write) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "--allow-tools: '" + name +
                "' is not a write tool (authorize, capture, void, refund, payout, p2p)");
      }
      out.insert(name);
    }
  }
  return out;
}

Result<void> CheckCredential(const std::string& credential) {
  bool ok = !credential.empty() && credential.size() <= 64;
  for (char c : credential) ok = ok && c > ' ' && c < 0x7f && c != ';' && c != '=';
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--credential: 1-64 printable ASCII characters without ';' or '='");
  }
  return {};
}

// Reads lines of at most kLineBytesMax bytes; a longer one is skipped to its end and handed on
// as a marker that DecodeLine refuses (too large), so memory stays bounded.
bool ReadLine(std::FILE* in, std::string* line) {
  line->clear();
  bool too_long = false;
  for (int c = std::fgetc(in); c != EOF; c = std::fgetc(in)) {
    if (c == '\n') {
      if (too_long) line->assign(mcp::kLineBytesMax + 1, ' ');
      return true;
    }
    if (line->size() <= mcp::kLineBytesMax) {
      line->push_back(static_cast<char>(c));
    } else if (!too_long) {
      too_long = true;
      line->clear();
      line->shrink_to_fit();
    }
  }
  if (too_long) line->assign(mcp::kLineBytesMax + 1, ' ');
  return !line->empty();
}

int RunMcp(Context& ctx, const McpOptions& o) {
  auto fail = [](const Error& e) {
    std::cerr << "paymentctl mcp: " << e.message << " [" << e.name() << " " << e.number() << "]\n";
    return 2;
  };
  if (ctx.merchant.empty()) {
    return fail(MakeError(ErrorCode::kInvalidArgument,
                          "--merchant: the merchant the agent acts for is required"));
  }
  if (auto r = CheckCredential(o.credential); !r) return fail(r.error());
  auto writes = AllowedWrites(o.allow_tools);
  if (!writes) return fail(writes.error());
  if (auto m = ctx.engine->GetMerchant(ctx.merchant); !m) return fail(m.error());
  std::signal(SIGPIPE, SIG_IGN);  // a client that went away ends the loop through a failed write

  mcp::Tools tools(*ctx.engine, {ctx.merchant, o.credential, *writes});
  mcp::Server server(tools, {"paymentctl", PAYMENTCTL_VERSION}, Log);
  {
    std::string allowed;
    for (const std::string& w : *writes) allowed += (allowed.empty() ? "" : ",") + w;
    Log("{\"event\":\"start\",\"merchant\":\"" + ctx.merchant + "\",\"credential\":\"" +
        o.credential + "\",\"write_tools\":\"" + allowed + "\"}");
  }
  std::string line;
  while (ReadLine(stdin, &line)) {
    std::string answer = server.Handle(line);
    if (answer.empty()) continue;
    answer += '\n';
    if (std::fwrite(answer.data(), 1, answer.size(), stdout) != answer.size() ||
        std::fflush(stdout) != 0) {
      Log("{\"event\":\"stop\",\"reason\":\"stdout closed\"}");
      return 1;
    }
  }
  Log("{\"event\":\"stop\",\"reason\":\"eof\"}");
  return 0;
}

}  // namespace

void AddMcpCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<McpOptions>();
  auto* sub = app.add_subcommand(
      "mcp",
      "Serve the Model Context Protocol over stdio: tools for an AI agent acting for one merchant");
  sub->add_option(
         "--credential", o->credential,
         "The agent's credential name: velocity rules keyed on `credential` count its calls")
      ->required();
  sub->add_option("--allow-tools", o->allow_tools,
                  "Write tools the agent may call, comma-separated: authorize, capture, void, "
                  "refund, payout, p2p (default: none; read tools only)")
      ->allow_extra_args(false);
  Help(sub,
       {"paymentctl --merchant acme mcp --credential agent-1",
        "paymentctl --merchant acme --config caps.toml mcp --credential agent-1 --allow-tools "
        "authorize,capture"},
       {"--db --merchant --config --idempotency-retention --durability", kNetworkOptions},
       "stdin: one JSON-RPC message a line; stdout: answers only; stderr: one JSON log line per "
       "call. "
       "Exits 0 at the end of stdin. docs/mcp.md has the tools, the guards and a client config.");
  OnRun(sub, ctx, Needs::kEngineAndNetwork, [o](Context& c) { return RunMcp(c, *o); });
}

}  // namespace pay::cli
