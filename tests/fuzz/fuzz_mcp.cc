// libFuzzer: the MCP line decoder (adapters/mcp/json_rpc.cc) never crashes, and whatever it
// classifies it classifies consistently: an invalid line always carries a JSON-RPC error code,
// and the answer built from it is valid UTF-8.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "adapters/mcp/json_rpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  pay::mcp::Message m = pay::mcp::DecodeLine(line);
  if (m.kind == pay::mcp::Message::Kind::kInvalid) {
    if (m.error_code >= -32000 || m.error_code < -32700) std::abort();
    if (!pay::mcp::IsValidUtf8(pay::mcp::ErrorLine(m.id_json, m.error_code, m.error_message))) {
      std::abort();
    }
  }
  if (m.kind == pay::mcp::Message::Kind::kRequest && m.method.empty()) std::abort();
  return 0;
}
