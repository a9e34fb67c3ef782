#pragma once
// The MCP server's protocol side: one JSON-RPC line in, at most one line out. Both eras:
// - 2025 (sessions): initialize (2025-06-18 and 2025-11-25 echoed, anything else answered with
//   the newest), notifications/initialized, ping, tools/list, tools/call, and the merchant's
//   accounts and payments as resources (resources/list, resources/templates/list,
//   resources/read);
// - 2026-07-28 (stateless): server/discover, and on any request the protocol version, client
//   info and capabilities in params._meta ("io.modelcontextprotocol/..."); its results carry
//   resultType "complete" and the server's identity in _meta; a version it does not know in
//   _meta is refused with -32022 listing the supported ones.
// Requests are served in either era without an initialize first (a stateless server has no
// session to require one). Notifications are never answered; responses from the client are
// ignored (this server sends no requests). Tool argument errors, refusals and declines are tool
// results with isError true (the model reads them); an unknown tool is -32602.
//
// Single-threaded; the transport (paymentctl mcp) feeds lines in order.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "adapters/mcp/json_rpc.h"
#include "adapters/mcp/tools.h"

namespace pay::mcp {

inline constexpr std::string_view kModernVersion = "2026-07-28";
inline constexpr std::string_view kNewestSessionVersion = "2025-11-25";

struct ServerInfo {
  std::string name = "paymentctl";
  std::string version;
};

class Server {
 public:
  // `log` receives one JSON line per tools/call (tool, key, outcome) and per refused message;
  // `tools` must outlive the server.
  Server(Tools& tools, ServerInfo info, std::function<void(const std::string&)> log);

  // The answer to one line (without its newline); empty when there is nothing to answer.
  std::string Handle(std::string_view line);

 private:
  struct Era {
    bool modern = false;  // the request carried a 2026-07-28 _meta envelope
  };
  std::string Dispatch(const Message& m, const Era& era);
  std::string Initialize(const Message& m);
  std::string Discover(const Message& m, const Era& era);
  std::string ListTools(const Message& m, const Era& era);
  std::string CallTool(const Message& m, const Era& era);
  // resources/list, resources/templates/list, resources/read.
  std::string Resources(const Message& m, const Era& era);
  // A result object (JSON) -> the answer line, stamped for the era (2026-07-28: resultType, the
  // server's identity, and with ttl_ms >= 0 the cache hints of a cacheable result).
  std::string Answer(const Message& m, const Era& era, std::string_view object,
                     int64_t ttl_ms = -1);
  std::string Instructions() const;
  std::string ServerInfoJson() const;

  Tools& tools_;
  ServerInfo info_;
  std::function<void(const std::string&)> log_;
  bool initialized_ = false;
};

}  // namespace pay::mcp
