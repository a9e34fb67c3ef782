#include "adapters/mcp/server.h"

#include <array>
#include <utility>

#include "core/json_writer.h"

namespace pay::mcp {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr std::array<std::string_view, 3> kVersions = {"2026-07-28", "2025-11-25", "2025-06-18"};
constexpr std::string_view kVersionKey = "io.modelcontextprotocol/protocolVersion";
constexpr int64_t kListTtlMs = 3'600'000;  // tools and resources are fixed for the process's life

bool Supported(std::string_view version) {
  for (std::string_view v : kVersions) {
    if (v == version) return true;
  }
  return false;
}

// Text from the input shown in an answer or a log line: at most `bytes_max` of valid UTF-8.
std::string Shown(std::string_view text, size_t bytes_max = 80) {
  if (text.size() > bytes_max || !IsValidUtf8(text)) return "(not shown)";
  return std::string(text);
}

std::string VersionsJson() {
  JsonWriter w;
  w.BeginArray();
  for (std::string_view v : kVersions) w.String(v);
  w.EndArray();
  return w.str();
}

constexpr std::string_view kCapabilities =
    R"({"tools":{"listChanged":false},"resources":{"listChanged":false}})";
constexpr int kResourceNotFound = -32002;  // MCP's code for resources/read

}  // namespace

Server::Server(Tools& tools, ServerInfo info, std::function<void(const std::string&)> log)
    : tools_(tools), info_(std::move(info)), log_(std::move(log)) {}

std::string Server::Handle(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return "";  // blank line
  Message m = DecodeLine(line);
  switch (m.kind) {
    case Message::Kind::kInvalid: {
      JsonWriter w;
      w.BeginObject().Field("event", "refused").Field("code", m.error_code);
      w.Field("message", m.error_message).EndObject();
      log_(w.str());
      return ErrorLine(m.id_json, m.error_code, m.error_message);
    }
    case Message::Kind::kResponse:
      return "";
    case Message::Kind::kNotification:
      if (m.method == "notifications/initialized") initialized_ = true;
      return "";  // notifications/cancelled and the rest: nothing to do, nothing to answer
    case Message::Kind::kRequest:
      break;
  }
  Era era;
  auto meta = m.params.fields().find("_meta");
  if (meta != m.params.fields().end()) {
    if (meta->second.kind_case() != Value::kStructValue) {
      return ErrorLine(m.id_json, kInvalidParams, "Invalid params: _meta must be an object");
    }
    const auto& f = meta->second.struct_value().fields();
    auto version = f.find(std::string(kVersionKey));
    if (version != f.end()) {
      if (version->second.kind_case() != Value::kStringValue) {
        return ErrorLine(m.id_json, kInvalidParams,
                         "Invalid params: _meta protocolVersion must be a string");
      }
      const std::string& requested = version->second.string_value();
      if (!Supported(requested)) {
        JsonWriter data;
        data.BeginObject()
            .Key("supported")
            .Raw(VersionsJson())
            .Field("requested", Shown(requested));
        data.EndObject();
        return ErrorLine(m.id_json, kUnsupportedProtocolVersion, "Unsupported protocol version",
                         data.str());
      }
      era.modern = requested == kModernVersion;
    }
  }
  return Dispatch(m, era);
}

std::string Server::Dispatch(const Message& m, const Era& era) {
  if (m.method == "initialize") return Initialize(m);
  if (m.method == "server/discover") return Discover(m, era);
  if (m.method == "ping") return Answer(m, era, "{}");
  if (m.method == "tools/list") return ListTools(m, era);
  if (m.method == "tools/call") return CallTool(m, era);
  if (m.method.rfind("resources/", 0) == 0) return Resources(m, era);
  return ErrorLine(m.id_json, kMethodNotFound, "Method not found: " + Shown(m.method));
}

std::string Server::Answer(const Message& m, const Era& era, std::string_view object,
                           int64_t ttl_ms) {
  std::string body(object.substr(0, object.size() - 1));  // without the closing brace
  if (era.modern) {
    if (body.size() > 1) body += ',';
    body += "\"resultType\":\"complete\"";
    if (ttl_ms >= 0) {
      body += ",\"ttlMs\":" + std::to_string(ttl_ms) + ",\"cacheScope\":\"private\"";
    }
    body += ",\"_meta\":{\"io.modelcontextprotocol/serverInfo\":" + ServerInfoJson() + "}";
  }
  body += "}";
  return ResultLine(m.id_json, body);
}

std::string Server::ServerInfoJson() const {
  JsonWriter w;
  w.BeginObject().Field("name", info_.name).Field("version", info_.version).EndObject();
  return w.str();
}

std::string Server::Instructions() const {
  const ToolsOptions& o = tools_.options();
  std::string text = "Payments of merchant '" + o.merchant + "' (agent credential '" +
                     o.credential +
                     "'). Amounts are decimal strings in the currency (\"25.00\"); results "
                     "give them as integer *_minor units. Every write needs an idempotency_key: "
                     "reuse it to retry safely. Refusals (velocity caps, declines) come back as "
                     "results with isError true and say when to retry.";
  if (o.allowed_writes.empty()) text += " This server is read-only.";
  return text;
}

std::string Server::Initialize(const Message& m) {
  auto v = m.params.fields().find("protocolVersion");
  if (v == m.params.fields().end() || v->second.kind_case() != Value::kStringValue) {
    return ErrorLine(m.id_json, kInvalidParams, "Invalid params: protocolVersion is required");
  }
  const std::string& asked = v->second.string_value();
  // initialize belongs to the session era: echo a session version, else offer the newest.
  const std::string_view version =
      Supported(asked) && asked != kModernVersion ? std::string_view(asked) : kNewestSessionVersion;
  JsonWriter w;
  w.BeginObject().Field("protocolVersion", version).Key("capabilities").Raw(kCapabilities);
  w.Key("serverInfo").Raw(ServerInfoJson()).Field("instructions", Instructions()).EndObject();
  return ResultLine(m.id_json, w.str());
}

std::string Server::Discover(const Message& m, const Era& era) {
  JsonWriter w;
  w.BeginObject().Key("supportedVersions").Raw(VersionsJson());
  w.Key("capabilities").Raw(kCapabilities).Field("instructions", Instructions()).EndObject();
  Era modern = era;
  modern.modern = true;  // discover is of the 2026 era whatever the envelope said
  return Answer(m, modern, w.str(), kListTtlMs);
}

std::string Server::ListTools(const Message& m, const Era& era) {
  JsonWriter w;
  w.BeginObject().Key("tools").BeginArray();
  for (const ToolSpec* t : tools_.Listed()) {
    w.BeginObject().Field("name", t->name).Field("title", t->title);
    w.Field("description", t->description);
    w.Key("inputSchema").Raw(t->input_schema).Key("outputSchema").Raw(t->output_schema);
    w.Key("annotations").BeginObject().Field("title", t->title);
    w.Field("readOnlyHint", !t->write).Field("destructiveHint", t->destructive);
    w.Field("idempotentHint", t->write ? t->idempotent : true).Field("openWorldHint", t->write);
    w.EndObject().EndObject();
  }
  w.EndArray().EndObject();
  return Answer(m, era, w.str(), kListTtlMs);
}

std::string Server::CallTool(const Message& m, const Era& era) {
  const auto& f = m.params.fields();
  auto name = f.find("name");
  if (name == f.end() || name->second.kind_case() != Value::kStringValue) {
    return ErrorLine(m.id_json, kInvalidParams, "Invalid params: name is required");
  }
  const ToolSpec* tool = FindTool(name->second.string_value());
  if (tool == nullptr) {
    return ErrorLine(m.id_json, kInvalidParams,
                     "Unknown tool: " + Shown(name->second.string_value()));
  }
  static const Struct kNone;
  const Struct* args = &kNone;
  if (auto a = f.find("arguments"); a != f.end() && a->second.kind_case() != Value::kNullValue) {
    if (a->second.kind_case() != Value::kStructValue) {
      return ErrorLine(m.id_json, kInvalidParams, "Invalid params: arguments must be an object");
    }
    args = &a->second.struct_value();
  }
  ToolResult r = tools_.Call(*tool, *args);
  JsonWriter log;
  log.BeginObject().Field("event", "tool_call").Field("tool", tool->name);
  log.Field("key", Shown(r.key, 255)).Field("outcome", r.outcome).EndObject();
  log_(log.str());
  JsonWriter w;
  w.BeginObject().Key("content").BeginArray().BeginObject().Field("type", "text");
  w.Field("text", r.structured_json).EndObject().EndArray();
  w.Key("structuredContent").Raw(r.structured_json).Field("isError", r.is_error).EndObject();
  return Answer(m, era, w.str());
}

std::string Server::Resources(const Message& m, const Era& era) {
  const std::string& merchant = tools_.options().merchant;
  JsonWriter w;
  if (m.method == "resources/list") {
    w.BeginObject().Key("resources").BeginArray();
    for (const std::string& uri : tools_.AccountUris()) {
      w.BeginObject().Field("uri", uri).Field("name", uri.substr(uri.rfind('/') + 1));
      w.Field("title", "Ledger account " + uri.substr(std::string_view("account://").size()));
      w.Field("mimeType", "application/json").EndObject();
    }
    w.EndArray().EndObject();
    return Answer(m, era, w.str(), kListTtlMs);
  }
  if (m.method == "resources/templates/list") {
    w.BeginObject().Key("resourceTemplates").BeginArray();
    w.BeginObject().Field("uriTemplate", "payment://{payment_id}").Field("name", "payment");
    w.Field("title", "A payment of merchant " + merchant);
    w.Field("mimeType", "application/json").EndObject();
    w.EndArray().EndObject();
    return Answer(m, era, w.str(), kListTtlMs);
  }
  if (m.method != "resources/read") {
    return ErrorLine(m.id_json, kMethodNotFound, "Method not found: " + Shown(m.method));
  }
  auto uri = m.params.fields().find("uri");
  if (uri == m.params.fields().end() || uri->second.kind_case() != Value::kStringValue) {
    return ErrorLine(m.id_json, kInvalidParams, "Invalid params: uri is required");
  }
  const std::string& text = uri->second.string_value();
  auto body = tools_.ReadResource(text);
  if (!body) {
    if (body.error().code != ErrorCode::kNotFound) {
      return ErrorLine(m.id_json, kInternalError, "Internal error: " + body.error().message);
    }
    JsonWriter data;
    data.BeginObject().Field("uri", Shown(text)).EndObject();
    return ErrorLine(m.id_json, kResourceNotFound, "Resource not found", data.str());
  }
  w.BeginObject().Key("contents").BeginArray().BeginObject().Field("uri", text);
  w.Field("mimeType", "application/json").Field("text", *body).EndObject().EndArray().EndObject();
  return Answer(m, era, w.str(), 0);  // payments and balances change: never fresh
}

}  // namespace pay::mcp
